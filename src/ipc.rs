//! Local sockets between the manager and its workers: a private directory,
//! the socket inside it, listening and connecting. Knows nothing of messages.
//!
//! The socket is a filesystem socket inside a fresh directory of mode 0700, so
//! no other local user can even reach it (an abstract-namespace name could be
//! reached by anyone). The directory is removed when the [`SocketDir`] drops.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use interprocess::local_socket::{GenericFilePath, ListenerOptions, prelude::*};

pub use interprocess::local_socket::{Listener, Stream};

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A private per-pool directory holding the pool's socket.
#[derive(Debug)]
pub struct SocketDir {
    dir: tempfile::TempDir,
}

impl SocketDir {
    /// Creates a fresh 0700 directory under `$XDG_RUNTIME_DIR` (when usable) or
    /// the system temp dir. A unique random name means a leftover directory
    /// from a crashed run can never be in the way.
    pub fn create() -> io::Result<SocketDir> {
        let mut last_err = None;
        for base in candidate_bases() {
            let made = tempfile::Builder::new()
                .prefix("pooltop-")
                .permissions(Permissions::from_mode(0o700))
                .tempdir_in(&base);
            match made {
                Ok(dir) if socket_path_in(dir.path()).as_os_str().len() <= MAX_SOCKET_PATH => {
                    return Ok(SocketDir { dir });
                }
                Ok(_) => {
                    last_err = Some(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("socket path under {} would be too long", base.display()),
                    ))
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no directory for the pool's socket")))
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the workers' socket lives.
    pub fn socket_path(&self) -> PathBuf {
        socket_path_in(self.dir.path())
    }
}

fn socket_path_in(dir: &Path) -> PathBuf {
    dir.join("w.sock")
}

fn candidate_bases() -> Vec<PathBuf> {
    let mut bases = Vec::new();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        let runtime = PathBuf::from(runtime);
        if runtime.is_dir() {
            bases.push(runtime);
        }
    }
    bases.push(std::env::temp_dir());
    bases.push(PathBuf::from("/tmp"));
    bases
}

/// Listens on a filesystem socket at `path`.
pub fn listen(path: &Path) -> io::Result<Listener> {
    let name = path.to_fs_name::<GenericFilePath>()?;
    ListenerOptions::new().name(name).create_sync()
}

/// The file descriptor of a connection, to wait on it with `mio`.
pub fn raw_fd(stream: &Stream) -> std::os::fd::RawFd {
    use std::os::fd::{AsFd, AsRawFd};
    match stream {
        Stream::UdSocket(s) => s.as_fd().as_raw_fd(),
    }
}

/// A second handle on a connection (a duplicated descriptor), to write
/// frames from where the stream itself is not at hand.
pub fn second_handle(stream: &Stream) -> io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    match stream {
        Stream::UdSocket(s) => Ok(std::fs::File::from(s.as_fd().try_clone_to_owned()?)),
    }
}

/// A connection from a socket that is already open (one end of a socket
/// pair handed over by the process that started this one).
pub fn from_socket(socket: std::os::unix::net::UnixStream) -> Stream {
    Stream::UdSocket(socket.into())
}

/// Connects to the socket at `path`.
pub fn connect(path: &Path) -> io::Result<Stream> {
    let name = path.to_fs_name::<GenericFilePath>()?;
    Stream::connect(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn private_dir_round_trip() {
        let dir = SocketDir::create().unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let path = dir.socket_path();
        let listener = listen(&path).unwrap();
        let t = std::thread::spawn(move || {
            let mut s = connect(&path).unwrap();
            s.write_all(b"ping").unwrap();
        });
        let mut conn = listener.accept().unwrap();
        let mut got = [0u8; 4];
        conn.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        t.join().unwrap();
        let kept = dir.path().to_path_buf();
        drop(listener);
        drop(dir);
        assert!(!kept.exists(), "the socket directory is removed on drop");
    }
}
