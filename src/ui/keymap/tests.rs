use super::*;

fn press(code: KeyCode, mods: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, mods))
}

fn action_in(map: &Keymap, mode: Mode, code: KeyCode, mods: KeyModifiers) -> Option<Action> {
    match map.lookup(mode, &press(code, mods)) {
        Some(Msg::Action(a)) => Some(a),
        _ => None,
    }
}

fn action(mode: Mode, code: KeyCode, mods: KeyModifiers) -> Option<Action> {
    action_in(&Keymap::default(), mode, code, mods)
}

/// The keymap a config file's `[keys]` makes, or its errors as printed.
fn from_toml(text: &str) -> Result<Keymap, Vec<String>> {
    let layer = crate::config::parse(text, "test.toml", &crate::config::no_key_check)
        .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    Keymap::from_binds(&layer.keys).map_err(|e| e.iter().map(|e| e.to_string()).collect())
}

#[test]
fn issue_key_table_maps_to_intents() {
    let none = KeyModifiers::NONE;
    let shift = KeyModifiers::SHIFT;
    let n = Mode::Normal;
    for (code, mods, want) in [
        (KeyCode::Up, none, Action::Up),
        (KeyCode::Char('k'), none, Action::Up),
        (KeyCode::Down, none, Action::Down),
        (KeyCode::Char('j'), none, Action::Down),
        (KeyCode::Tab, none, Action::NextPane),
        (KeyCode::BackTab, shift, Action::PrevPane),
        (KeyCode::Char('s'), none, Action::Submit),
        (KeyCode::Char('p'), none, Action::TogglePause),
        (KeyCode::Char('P'), shift, Action::ToggleDispatch),
        (KeyCode::Char('t'), none, Action::Terminate),
        (KeyCode::Char('K'), shift, Action::Kill),
        (KeyCode::Char('+'), shift, Action::ScaleUp),
        (KeyCode::Char('-'), none, Action::ScaleDown),
        (KeyCode::Char('/'), none, Action::Filter),
        (KeyCode::Char('?'), shift, Action::Help),
        (KeyCode::Esc, none, Action::Back),
        (KeyCode::Char('q'), none, Action::Quit),
        (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Quit),
    ] {
        assert_eq!(action(n, code, mods), Some(want), "{code:?}");
    }
    assert_eq!(action(n, KeyCode::Char('x'), none), None);
    assert_eq!(action(n, KeyCode::Char('q'), KeyModifiers::ALT), None);
}

#[test]
fn overlays_close_with_their_key_esc_or_q_and_scroll() {
    let none = KeyModifiers::NONE;
    let h = Mode::Help;
    assert_eq!(action(h, KeyCode::Char('?'), none), Some(Action::Help));
    assert_eq!(action(h, KeyCode::Esc, none), Some(Action::Back));
    assert_eq!(action(h, KeyCode::Char('q'), none), Some(Action::Back));
    assert_eq!(action(h, KeyCode::Char('j'), none), Some(Action::Down));
    assert_eq!(action(h, KeyCode::Char('s'), none), None);
    let d = Mode::Detail;
    assert_eq!(action(d, KeyCode::Enter, none), Some(Action::Back));
    assert_eq!(action(d, KeyCode::PageDown, none), Some(Action::PageDown));
    assert_eq!(action(d, KeyCode::Char('K'), none), None);
    assert_eq!(
        action(d, KeyCode::Char('c'), KeyModifiers::CONTROL),
        Some(Action::Quit)
    );
}

#[test]
fn prompts_take_text_not_commands() {
    let none = KeyModifiers::NONE;
    let map = Keymap::default();
    for mode in [Mode::Submit, Mode::Filter] {
        assert!(matches!(
            map.lookup(mode, &press(KeyCode::Char('q'), none)),
            Some(Msg::Edit(Edit::Insert('q')))
        ));
        assert!(matches!(
            map.lookup(mode, &press(KeyCode::Enter, none)),
            Some(Msg::Edit(Edit::Confirm))
        ));
        assert!(matches!(
            map.lookup(mode, &press(KeyCode::Esc, none)),
            Some(Msg::Edit(Edit::Cancel))
        ));
        assert!(matches!(
            map.lookup(mode, &press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Msg::Action(Action::Quit))
        ));
    }
}

#[test]
fn releases_are_ignored_and_mouse_maps_to_cells() {
    let map = Keymap::default();
    let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    k.kind = KeyEventKind::Release;
    assert!(map.lookup(Mode::Normal, &Event::Key(k)).is_none());
    let m = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 3,
        row: 7,
        modifiers: KeyModifiers::NONE,
    };
    assert!(matches!(
        map.lookup(Mode::Normal, &Event::Mouse(m)),
        Some(Msg::Click { col: 3, row: 7 })
    ));
}

#[test]
fn help_lists_every_action_once_with_its_keys() {
    let map = Keymap::default();
    let lines = map.help_lines();
    assert_eq!(lines[0].0, "↑ k ↓ j");
    for e in ACTIONS {
        let named = lines.iter().any(|(_, d)| *d == e.action.describe())
            || HELP_PAIRS
                .iter()
                .any(|(x, z)| *x == e.action || *z == e.action);
        assert!(named, "{:?} missing from help", e.action);
    }
    let quit = lines
        .iter()
        .find(|(_, d)| *d == Action::Quit.describe())
        .unwrap();
    assert_eq!(quit.0, "q Ctrl-C");
    for a in FOOTER {
        assert!(map.first_key(*a).is_some(), "{a:?} has no key");
    }
}

/// Every action is in the table. The match has no wildcard, so a new
/// action does not compile until it is listed here (add it to `all` as
/// well); the test then fails until it has its entry in [`ACTIONS`].
#[test]
fn every_action_has_an_entry() {
    fn listed(a: Action) -> Action {
        match a {
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End
            | Action::NextPane
            | Action::PrevPane
            | Action::Submit
            | Action::TogglePause
            | Action::ToggleDispatch
            | Action::Terminate
            | Action::Kill
            | Action::ScaleUp
            | Action::ScaleDown
            | Action::Filter
            | Action::Detail
            | Action::CancelTask
            | Action::RetryTask
            | Action::RetryFailed
            | Action::FrontTask
            | Action::Help
            | Action::Back
            | Action::Quit
            | Action::StopPool
            | Action::Timeline
            | Action::Earlier
            | Action::Later
            | Action::ZoomIn
            | Action::ZoomOut
            | Action::PlayPause
            | Action::Faster
            | Action::Slower
            | Action::SeekBack
            | Action::SeekForward
            | Action::SeekEnd => a,
        }
    }
    let all = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Home,
        Action::End,
        Action::NextPane,
        Action::PrevPane,
        Action::Submit,
        Action::TogglePause,
        Action::ToggleDispatch,
        Action::Terminate,
        Action::Kill,
        Action::ScaleUp,
        Action::ScaleDown,
        Action::Filter,
        Action::Detail,
        Action::CancelTask,
        Action::RetryTask,
        Action::RetryFailed,
        Action::FrontTask,
        Action::Help,
        Action::Back,
        Action::Quit,
        Action::StopPool,
        Action::Timeline,
        Action::Earlier,
        Action::Later,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::PlayPause,
        Action::Faster,
        Action::Slower,
        Action::SeekBack,
        Action::SeekForward,
        Action::SeekEnd,
    ];
    assert_eq!(all.len(), ACTIONS.len());
    for a in all.map(listed) {
        assert!(ACTIONS.iter().any(|e| e.action == a), "{a:?} has no entry");
    }
}

#[test]
fn the_table_names_each_action_once_in_snake_case_and_its_keys_parse() {
    for e in ACTIONS {
        assert_eq!(ACTIONS.iter().filter(|o| o.action == e.action).count(), 1);
        let snake: String = format!("{:?}", e.action)
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let sep = (i > 0 && c.is_uppercase()).then_some('_');
                sep.into_iter().chain(c.to_lowercase())
            })
            .collect();
        assert_eq!(e.name, snake);
        for k in e.keys {
            let key = Key::parse(k).unwrap_or_else(|| panic!("{k} does not parse"));
            assert_eq!(key.config_name(), *k, "write {k} the way it reads back");
        }
    }
    // The built-in keys do not conflict.
    assert_eq!(Keymap::from_binds(&[]), Ok(Keymap::default()));
    let n: usize = ACTIONS.iter().map(|e| e.keys.len()).sum();
    assert_eq!(Keymap::default().bindings().len(), n);
}

#[test]
fn the_file_rebinds_actions_and_the_old_keys_stop_working() {
    let map = from_toml("[keys]\nkill = \"x\"\nquit = [\"Q\", \"F10\"]\nup = []\n").unwrap();
    let none = KeyModifiers::NONE;
    let n = Mode::Normal;
    assert_eq!(
        action_in(&map, n, KeyCode::Char('x'), none),
        Some(Action::Kill)
    );
    assert_eq!(action_in(&map, n, KeyCode::Char('K'), none), None);
    assert_eq!(action_in(&map, n, KeyCode::Char('q'), none), None);
    assert_eq!(action_in(&map, n, KeyCode::F(10), none), Some(Action::Quit));
    assert_eq!(action_in(&map, n, KeyCode::Char('k'), none), None);
    // Ctrl-C still quits; Q closes an overlay as q did.
    assert_eq!(
        action_in(&map, n, KeyCode::Char('c'), KeyModifiers::CONTROL),
        Some(Action::Quit)
    );
    assert_eq!(
        action_in(&map, Mode::Help, KeyCode::Char('Q'), KeyModifiers::SHIFT),
        Some(Action::Back)
    );
    // What the help and the footer show follows.
    assert_eq!(map.keys_for(Action::Kill), "x");
    assert_eq!(map.keys_for(Action::Quit), "Q F10 Ctrl-C");
    assert_eq!(map.keys_for(Action::Up), "–");
    assert_eq!(map.first_key(Action::Quit).as_deref(), Some("Q"));
    // Unbinding quit leaves Ctrl-C.
    let map = from_toml("[keys]\nquit = []\n").unwrap();
    assert_eq!(map.first_key(Action::Quit).as_deref(), Some("Ctrl-C"));
}

#[test]
fn every_key_problem_is_an_error_at_its_line() {
    let errs =
        from_toml("[keys]\nquitt = \"x\"\nkill = \"Ctlr-x\"\nhelp = \"ctrl-c\"\nsubmit = \"k\"\n")
            .unwrap_err();
    assert_eq!(
        errs,
        [
            "test.toml:2: keys.quitt: unknown action (did you mean quit?)".to_string(),
            format!("test.toml:3: keys.kill: \"Ctlr-x\" is not a key: write {SPELLING}"),
            "test.toml:4: keys.help: \"ctrl-c\" always quits; it cannot be bound".to_string(),
            "test.toml:5: keys.submit: \"k\" is also bound to up (by default; bind up to other keys)"
                .to_string(),
        ]
    );
    let errs = from_toml("[keys]\nkill = \"x\"\n\nterminate = [\"t\", \"x\"]\n").unwrap_err();
    assert_eq!(
        errs,
        ["test.toml:4: keys.terminate: \"x\" is also bound to kill (line 2)"]
    );
    // Swapping two keys is no conflict.
    let map = from_toml("[keys]\nkill = \"t\"\nterminate = \"K\"\n").unwrap();
    assert_eq!(map.keys_for(Action::Kill), "t");
}
