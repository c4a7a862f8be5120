//! Session tokens: issuing random bearer tokens and hashing them, because the store only ever keeps hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// How many random bytes a token carries; 32 bytes is 256 bits of entropy.
const TOKEN_RANDOM_BYTE_COUNT: usize = 32;

/// SHA-256 of a session token's text.
///
/// Tokens carry 256 random bits, so a plain fast hash is enough: there is nothing to brute-force,
/// and looking sessions up by hash means lookup timing reveals nothing useful about a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The raw digest, for stores that need to persist it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hexadecimal digits, as PostgreSQL's `encode(…, 'hex')` writes it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The digest from the 64 hexadecimal digits a store sent it as (PostgreSQL's
    /// `encode(…, 'hex')`), or `None` for anything else.
    pub fn from_hex(digits: &str) -> Option<Self> {
        if digits.len() != 64 || !digits.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl std::fmt::Debug for TokenHash {
    /// Prints no bytes at all, so logging a session never leaks anything that identifies it.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TokenHash(..)")
    }
}

/// Creates a new session token and its hash.
///
/// The token is 32 bytes from the operating system's CSPRNG (through `getrandom`), encoded as
/// base64url without padding, which gives 43 URL-safe characters. It returns a `Result` rather
/// than panicking because the OS random source can, in principle, fail.
pub fn issue_token() -> Result<(String, TokenHash)> {
    let mut random_bytes = [0u8; TOKEN_RANDOM_BYTE_COUNT];
    getrandom::getrandom(&mut random_bytes).map_err(|os_error| {
        Error::Internal(format!(
            "the OS random source failed while issuing a token: {os_error}"
        ))
    })?;
    let token = URL_SAFE_NO_PAD.encode(random_bytes);
    let token_hash = hash_token(&token);
    Ok((token, token_hash))
}

/// Hashes a token as presented by a client, to look its session up.
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ten_thousand_issued_tokens_are_all_different() {
        let mut seen_tokens = HashSet::new();
        let mut seen_hashes = HashSet::new();
        for _ in 0..10_000 {
            let (token, token_hash) = issue_token().expect("the OS random source works in tests");
            assert!(seen_tokens.insert(token));
            assert!(seen_hashes.insert(token_hash));
        }
    }

    #[test]
    fn hashing_the_same_token_twice_gives_the_same_hash() {
        let (token, issued_hash) = issue_token().expect("the OS random source works in tests");
        assert_eq!(hash_token(&token), issued_hash);
        assert_eq!(hash_token(&token), hash_token(&token));
        assert_ne!(hash_token("some-token"), hash_token("some-tokeN"));
    }

    #[test]
    fn token_hash_is_sha256_of_the_token_text() {
        // SHA-256("abc") from FIPS 180-2, so the hash format can be reproduced by other tools.
        let expected_prefix = [0xba, 0x78, 0x16, 0xbf];
        assert_eq!(&hash_token("abc").as_bytes()[..4], &expected_prefix);
    }

    #[test]
    fn tokens_are_43_characters_of_the_base64url_alphabet() {
        for _ in 0..100 {
            let (token, _) = issue_token().expect("the OS random source works in tests");
            assert_eq!(token.len(), 43);
            assert!(
                token
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric()
                        || character == '-'
                        || character == '_')
            );
        }
    }

    #[test]
    fn a_hash_read_back_from_its_hex_digits_is_the_same_and_other_text_is_refused() {
        let digest = hash_token("abc");
        let digits = digest.to_hex();
        assert!(digits.starts_with("ba7816bf"), "{digits}");
        assert_eq!(TokenHash::from_hex(&digits), Some(digest));
        assert_eq!(TokenHash::from_hex(&digits.to_uppercase()), Some(digest));
        assert_eq!(TokenHash::from_hex(&digits[2..]), None);
        assert_eq!(TokenHash::from_hex(&format!("zz{}", &digits[2..])), None);
        assert_eq!(TokenHash::from_hex(&format!("é{}", &digits[2..])), None);
    }

    #[test]
    fn debug_output_of_a_token_hash_shows_no_bytes() {
        assert_eq!(format!("{:?}", hash_token("abc")), "TokenHash(..)");
    }
}
