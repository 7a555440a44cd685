//! Our enums as Postgres `text` columns: written as their `as_str`, read back strictly — a
//! value the enum does not know is a decoding error, never a guess.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

use super::{ApiVersion, CancellationState, PayMethod, RefundStatus, Role};

macro_rules! text_column {
    ($ty:ty, $parse:expr) => {
        impl Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }
            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let s = <&str as Decode<Postgres>>::decode(value)?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($ty)).into())
            }
        }
    };
}

text_column!(RefundStatus, RefundStatus::parse);
text_column!(Role, Role::parse);
text_column!(PayMethod, |s| Some(PayMethod::from(s)));
text_column!(ApiVersion, ApiVersion::parse);
text_column!(CancellationState, CancellationState::parse);
