//! PortOne's answer to a refund's cancel. V1's is kept as the text PortOne sent, its history's
//! entries parsed only when asked for (`portone_v1::PaymentText`): the usual answer is judged
//! from two of them (`refund::own_success`), anything else reads the payment whole.

use std::borrow::Cow;

use portone_v1::{PaymentText, PortOneError};

use super::payment::{Balance, Payment};
use super::{from_v1, GatewayError};

#[derive(Clone, Debug)]
pub enum CancelAnswer {
    /// V1's payment after the cancel, as PortOne sent it
    V1(PaymentText),
    /// V2's payment, read after the cancel
    Read(Payment),
}

impl CancelAnswer {
    /// The payment, every entry of its history parsed. For V1 an entry that cannot be read
    /// fails it, as when the whole answer could not be (`PortOneError::Decode`).
    pub fn payment(&self) -> Result<Cow<'_, Payment>, GatewayError> {
        match self {
            CancelAnswer::V1(text) => match text.to_payment() {
                Ok(p) => Ok(Cow::Owned(from_v1(p))),
                Err(e) => Err(PortOneError::Decode(e.to_string()).into()),
            },
            CancelAnswer::Read(p) => Ok(Cow::Borrowed(p)),
        }
    }

    /// The tax split the answer carries (V2's payment does; V1 answers it elsewhere).
    pub fn balance(&self) -> Option<Balance> {
        match self {
            CancelAnswer::V1(_) => None,
            CancelAnswer::Read(p) => p.balance,
        }
    }

    /// PortOne's answer as it came, for the seed guide's endpoint.
    pub fn into_text(self) -> String {
        match self {
            CancelAnswer::V1(text) => text.into_text(),
            CancelAnswer::Read(p) => p.raw.into_string(),
        }
    }
}
