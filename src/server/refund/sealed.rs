//! A customer's refund account (가상계좌 and the like), kept only while its refund is not final
//! and only sealed: AES-256-GCM (`ring`), the key from `REFUND_ACCOUNT_KEY`, never in the
//! database. Each sealed account names the key that sealed it (for rotation: older keys keep
//! opening what they sealed) and is bound to its refund (the refund's id is the AEAD's
//! associated data, so a sealed account copied onto another refund does not open). Postgres
//! erases it the moment the refund is final (`migrations/20261201000002_sealed_refund_account.sql`).
//!
//! Kept, a typed-account refund can wait for an admin's approval like any other, and the
//! reconciler can resend it.

use std::sync::Arc;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rules::{HolderPhone, RefundAccount};
use portone_v1::AccountNumber;

/// The keys accounts are sealed and opened with: the first seals, every one opens.
#[derive(Clone)]
pub struct AccountKeys {
    keys: Vec<(String, Arc<LessSafeKey>)>,
}

impl std::fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "AccountKeys({ids:?})")
    }
}

/// An account as sealed: the id of the key, and nonce ‖ ciphertext ‖ tag.
#[derive(Clone, Debug, PartialEq)]
pub struct SealedAccount {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Plain {
    holder: String,
    bank: String,
    number: String,
    tel: Option<String>,
}

impl AccountKeys {
    /// `id:base64-of-32-bytes`, comma-separated; the first seals.
    pub fn parse(setting: &str) -> Result<AccountKeys, String> {
        let mut keys = Vec::new();
        for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or("REFUND_ACCOUNT_KEY: each key is id:base64 (32 bytes)")?;
            let id = id.trim();
            if id.is_empty() || id.len() > 32 || keys.iter().any(|(k, _)| k == id) {
                return Err("REFUND_ACCOUNT_KEY: key ids must be short and distinct".into());
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| format!("REFUND_ACCOUNT_KEY: key {id:?} is not base64"))?;
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| format!("REFUND_ACCOUNT_KEY: key {id:?} must be 32 bytes"))?;
            keys.push((id.to_string(), Arc::new(LessSafeKey::new(key))));
        }
        if keys.is_empty() {
            return Err("REFUND_ACCOUNT_KEY: no key given".into());
        }
        Ok(AccountKeys { keys })
    }

    pub fn seal(&self, refund_id: Uuid, account: &RefundAccount) -> SealedAccount {
        let (key_id, key) = &self.keys[0];
        let plain = Plain {
            holder: account.holder.clone(),
            bank: account.bank.clone(),
            number: account.number.0.clone(),
            tel: account.tel.as_ref().map(|t| t.0.clone()),
        };
        let mut in_out = serde_json::to_vec(&plain).expect("an account serialises");
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).expect("the OS random generator");
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(refund_id.as_bytes()),
            &mut in_out,
        )
        .expect("sealing");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&in_out);
        SealedAccount { key_id: key_id.clone(), bytes }
    }

    /// The account, if a key of ours sealed it for this refund and it is intact.
    pub fn open(&self, refund_id: Uuid, sealed: &SealedAccount) -> Option<RefundAccount> {
        let (_, key) = self.keys.iter().find(|(id, _)| *id == sealed.key_id)?;
        if sealed.bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed_part) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = sealed_part.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(refund_id.as_bytes()), &mut in_out).ok()?;
        let plain: Plain = serde_json::from_slice(plain).ok()?;
        Some(RefundAccount {
            holder: plain.holder,
            bank: plain.bank,
            number: AccountNumber(plain.number),
            tel: plain.tel.map(HolderPhone),
        })
    }
}

/// A refund's stored sealed account, opened; `None` when there is none, no key, or it does not
/// open (a key since removed: logged).
pub fn open_stored(
    keys: Option<&AccountKeys>,
    refund_id: Uuid,
    bytes: Option<Vec<u8>>,
    key_id: Option<String>,
) -> Option<RefundAccount> {
    let sealed = SealedAccount { key_id: key_id?, bytes: bytes? };
    let opened = keys.and_then(|keys| keys.open(refund_id, &sealed));
    if opened.is_none() {
        tracing::error!(%refund_id, key_id = %sealed.key_id, "a sealed refund account does not open with the configured keys");
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxcdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    fn account() -> RefundAccount {
        RefundAccount {
            holder: "김민수".into(),
            bank: "004".into(),
            number: AccountNumber("56211105948400".into()),
            tel: Some(HolderPhone("01012345678".into())),
        }
    }

    #[test]
    fn an_account_opens_only_for_its_refund_with_the_key_that_sealed_it() {
        let keys = AccountKeys::parse(K1).unwrap();
        let id = Uuid::new_v4();
        let sealed = keys.seal(id, &account());
        assert_eq!(sealed.key_id, "k1");
        assert!(!String::from_utf8_lossy(&sealed.bytes).contains("56211105948400"));
        assert_eq!(keys.open(id, &sealed), Some(account()));
        // another refund's, a flipped bit, an unknown key: nothing
        assert_eq!(keys.open(Uuid::new_v4(), &sealed), None);
        let mut flipped = sealed.clone();
        flipped.bytes[20] ^= 1;
        assert_eq!(keys.open(id, &flipped), None);
        assert_eq!(AccountKeys::parse(K2).unwrap().open(id, &sealed), None);
        // two seals of one account differ (fresh nonce)
        assert_ne!(keys.seal(id, &account()).bytes, sealed.bytes);
    }

    #[test]
    fn after_rotation_the_new_key_seals_and_the_old_still_opens() {
        let old = AccountKeys::parse(K1).unwrap();
        let id = Uuid::new_v4();
        let sealed_before = old.seal(id, &account());
        let rotated = AccountKeys::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(rotated.open(id, &sealed_before), Some(account()));
        assert_eq!(rotated.seal(id, &account()).key_id, "k2");
        assert!(!format!("{rotated:?}").contains("AAEC"));
    }

    #[test]
    fn malformed_keys_stop_the_app() {
        for bad in ["", "k1", "k1:notbase64!", "k1:AAAA", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="] {
            assert!(AccountKeys::parse(bad).is_err(), "{bad:?}");
        }
    }
}
