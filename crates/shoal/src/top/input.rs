//! Keys → actions. Kept apart from the terminal so the key map is tested as a plain function and
//! the help screen is generated from the same table.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave `shoal top`.
    Quit,
    /// Close the help or the log pane if one is open, else quit (Esc).
    Back,
    /// Move the selection by this many rows (negative: up).
    Move(isize),
    /// Move to the first / last row.
    First,
    Last,
    /// Switch the arrows between the services and the instances table.
    SwitchFocus,
    /// Arrows move in the services table.
    FocusServices,
    /// Arrows move in the instances table.
    FocusInstances,
    /// Scale the selected service by this many instances.
    Scale(i64),
    /// Follow the selected instance's log (again: close it).
    Logs,
    /// Show or hide the key help.
    Help,
}

/// The keys, for the help screen: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  k j", "select a row"),
    ("PgUp PgDn", "move ten rows"),
    ("Home End  g G", "first / last row"),
    ("Tab  ← →  h Enter", "switch between services and instances"),
    (
        "+  -",
        "scale the selected service by one (within min..max)",
    ),
    ("l", "follow the selected instance's log (again to close)"),
    ("?", "this help"),
    ("Esc", "close help or logs; quit"),
    ("q  Ctrl-C", "quit"),
];

/// The action for a key, if any. Only presses count (some terminals report releases too).
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        _ if ctrl => return None,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Esc => Action::Back,
        KeyCode::Up | KeyCode::Char('k') => Action::Move(-1),
        KeyCode::Down | KeyCode::Char('j') => Action::Move(1),
        KeyCode::PageUp => Action::Move(-10),
        KeyCode::PageDown => Action::Move(10),
        KeyCode::Home | KeyCode::Char('g') => Action::First,
        KeyCode::End | KeyCode::Char('G') => Action::Last,
        KeyCode::Tab | KeyCode::BackTab => Action::SwitchFocus,
        KeyCode::Left | KeyCode::Char('h') => Action::FocusServices,
        KeyCode::Right | KeyCode::Enter => Action::FocusInstances,
        // `=` is `+` without shift on most layouts.
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Scale(1),
        KeyCode::Char('-') | KeyCode::Char('_') => Action::Scale(-1),
        KeyCode::Char('l') => Action::Logs,
        KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_documented_keys_do_what_they_say() {
        let cases = [
            (KeyCode::Char('q'), Action::Quit),
            (KeyCode::Esc, Action::Back),
            (KeyCode::Up, Action::Move(-1)),
            (KeyCode::Char('k'), Action::Move(-1)),
            (KeyCode::Down, Action::Move(1)),
            (KeyCode::Char('j'), Action::Move(1)),
            (KeyCode::Tab, Action::SwitchFocus),
            (KeyCode::Right, Action::FocusInstances),
            (KeyCode::Left, Action::FocusServices),
            (KeyCode::Char('+'), Action::Scale(1)),
            (KeyCode::Char('-'), Action::Scale(-1)),
            (KeyCode::Char('l'), Action::Logs),
            (KeyCode::Char('?'), Action::Help),
        ];
        for (code, want) in cases {
            assert_eq!(action(key(code)), Some(want), "{code:?}");
        }
        assert_eq!(action(key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn ctrl_c_quits_and_other_control_keys_do_nothing() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(action(ctrl('c')), Some(Action::Quit));
        assert_eq!(action(ctrl('l')), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = key(KeyCode::Char('+'));
        k.kind = KeyEventKind::Release;
        k.state = KeyEventState::NONE;
        assert_eq!(action(k), None);
    }
}
