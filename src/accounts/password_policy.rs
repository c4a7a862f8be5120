//! Which new passwords are refused beyond the contract's length bounds: the ones attackers try
//! first. The judgement is zxcvbn's (Dropbox's estimator, in its Rust port), whose dictionaries
//! include the 30,000 most common passwords of Xato's ten-million-password corpus and which
//! compares them ignoring case, as those lists are meant to be used.

use crate::error::{Error, Result};

/// The lowest zxcvbn score a new password may have. Scores run from 0 to 4; 0 and 1 mean that
/// zxcvbn finds the password in fewer than a million guesses. Every entry of its common-password
/// list that is long enough for the contract (8 characters or more) scores 0 or 1, in lower case,
/// upper case or capitalised, so this floor refuses the whole list and its trivial variations
/// ("password5", "p@ssw0rd") while passphrases of ordinary words pass.
const LOWEST_ACCEPTED_SCORE: u8 = 2;

/// Refuses a new password that is one of the most common passwords or barely differs from one,
/// or from the player's own username or email. The error's message says why without repeating
/// the password, so it can go to the player as is.
///
/// zxcvbn looks at the first 100 characters only, so the cost of a call is bounded (a few
/// milliseconds at most) whatever the contract admits.
pub fn check_new_password(password: &str, username: &str, email: &str) -> Result<()> {
    let estimate = zxcvbn::zxcvbn(password, &[username, email]);
    if u8::from(estimate.score()) >= LOWEST_ACCEPTED_SCORE {
        return Ok(());
    }
    // zxcvbn's warnings are fixed sentences such as "This is a top-10 common password."; none of
    // them quotes the password.
    let reason = estimate
        .feedback()
        .as_ref()
        .and_then(|feedback| feedback.warning())
        .map(|warning| warning.to_string())
        .unwrap_or_else(|| {
            "It is close to a common password, word or name, or to your username or email."
                .to_owned()
        });
    Err(Error::PasswordTooGuessable { reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str) -> Result<()> {
        check_new_password(password, "some_player", "someone@example.com")
    }

    #[test]
    fn the_most_common_passwords_are_refused_in_any_case() {
        for common in [
            "password",
            "12345678",
            "iloveyou",
            "sunshine",
            "princess",
            "football",
            "baseball",
            "qwertyuiop",
            "1qaz2wsx",
            "trustno1",
            "password123",
        ] {
            let capitalised = format!("{}{}", common[..1].to_uppercase(), &common[1..]);
            for variant in [common.to_owned(), common.to_uppercase(), capitalised] {
                assert!(
                    matches!(check(&variant), Err(Error::PasswordTooGuessable { .. })),
                    "{variant:?} is accepted"
                );
            }
        }
    }

    #[test]
    fn small_changes_to_a_common_password_are_refused_too() {
        for variant in ["password5", "p@ssw0rd", "11111111", "drowssap", "passw0rd"] {
            assert!(check(variant).is_err(), "{variant:?} is accepted");
        }
    }

    #[test]
    fn a_password_made_of_the_players_username_is_refused() {
        assert!(check_new_password("slither_king1", "slither_king", "sk@example.com").is_err());
    }

    #[test]
    fn the_refusal_says_why_and_never_repeats_the_password() {
        let Err(error) = check("iloveyou") else {
            panic!("a top-10 password is accepted");
        };
        let message = error.to_string();
        assert!(message.starts_with("password: "), "{message}");
        assert!(message.contains("common password"), "{message}");
        assert!(!message.contains("iloveyou"), "{message}");
    }

    #[test]
    fn passphrases_and_the_seeded_and_test_passwords_are_accepted() {
        for fine in [
            "correct horse battery",
            "a secret worth keeping",
            "charmer-pass-123",
            "viper-pass-456",
            "noodle-pass-789",
            "worm-pass-2468",
            "long enough",
            "pässwörd-🐍-pässwörd-🐍",
            "Tr0ub4dor&3",
        ] {
            assert_eq!(check(fine), Ok(()), "{fine:?} is refused");
        }
    }
}
