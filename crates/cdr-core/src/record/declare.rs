//! How the table of members in `record.rs` becomes code.

/// Declares the members of the `cdrs` union and their fields, once. From
/// the table it writes:
///
/// - one struct per member, named as the member's `__typename`, with the
///   table's docs and one public field per row;
/// - [`RecordKind`](crate::RecordKind), one variant per member, with
///   [`ALL`](crate::RecordKind::ALL), [`typename`](crate::RecordKind::typename)
///   and [`columns`](crate::RecordKind::columns) (GraphQL name, snake_case
///   name, column type and nullability of each row, in table order);
/// - the union [`Cdr`](crate::Cdr), with [`kind`](crate::Cdr::kind) and
///   [`value`](crate::Cdr::value) (read a column, for encoders), and, for the
///   decoders, `empty` (a record with nothing read yet) and `slot` (write a
///   column);
/// - [`Timestamped`](crate::Timestamped) for `Cdr`, from each member's
///   `datetime`.
///
/// A row is `field: Type = "graphqlName"`: the Rust field name is the column
/// name (`r#type` is `type`), the type one of those in
/// [`FieldType`](crate::field::FieldType), which gives the column type.
/// Columns are numbered in row order, so `value(i)` and `slot(i)` are the
/// `i`th row.
macro_rules! members {
    (
        $(
            $(#[$member_doc:meta])*
            $kind:ident($name:ident) {
                $(
                    $(#[$field_doc:meta])*
                    $field:ident: $ty:ty = $graphql:literal
                ),+ $(,)?
            }
        )+
    ) => {
        /// Which member of the `cdrs` union a record is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RecordKind {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $kind,
            )+
        }

        impl RecordKind {
            /// Every kind, in the order of [`RecordKind::index`].
            pub const ALL: [RecordKind; [$(stringify!($kind)),+].len()] =
                [$(RecordKind::$kind),+];

            /// The GraphQL type name (`__typename`).
            pub const fn typename(self) -> &'static str {
                match self {
                    $(RecordKind::$kind => stringify!($name),)+
                }
            }

            /// The columns, in documented order. Index 0 is always `datetime`.
            pub const fn columns(self) -> &'static [$crate::schema::Column] {
                match self {
                    $(RecordKind::$kind => &$name::COLUMNS,)+
                }
            }
        }

        $(
            $(#[$member_doc])*
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub struct $name {
                $(
                    #[doc = concat!("GraphQL field `", $graphql, "`.")]
                    $(#[$field_doc])*
                    pub $field: $ty,
                )+
            }

            impl $name {
                const COLUMNS: [$crate::schema::Column; [$($graphql),+].len()] = [
                    $($crate::field::column::<$ty>($graphql, stringify!($field)),)+
                ];

                fn empty() -> $name {
                    $name {
                        $($field: $crate::field::FieldType::empty(),)+
                    }
                }

                // The `if` chains below compare with constants (`at` is
                // known at each step), which the compiler turns into a jump
                // table, as it would a `match` on literals.

                #[inline]
                fn value(&self, index: usize) -> $crate::field::Value<'_> {
                    let mut at = 0;
                    $(
                        if index == at {
                            return $crate::field::FieldType::value(&self.$field);
                        }
                        at += 1;
                    )+
                    let _ = at;
                    $crate::field::Value::Null
                }

                #[inline]
                fn slot(&mut self, index: usize) -> Option<$crate::field::Slot<'_>> {
                    let mut at = 0;
                    $(
                        if index == at {
                            return Some($crate::field::FieldType::slot(&mut self.$field));
                        }
                        at += 1;
                    )+
                    let _ = at;
                    None
                }
            }
        )+

        /// One element of the `cdrs` union.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Cdr {
            $(
                #[doc = concat!("A `", stringify!($name), "`.")]
                $kind($name),
            )+
        }

        impl Cdr {
            /// Which union member this is.
            pub fn kind(&self) -> RecordKind {
                match self {
                    $(Cdr::$kind(_) => RecordKind::$kind,)+
                }
            }

            /// The value of column `index` of [`RecordKind::columns`] for
            /// this record's kind; [`Value::Null`](crate::Value::Null) past
            /// the last column.
            #[inline]
            pub fn value(&self, index: usize) -> $crate::field::Value<'_> {
                match self {
                    $(Cdr::$kind(r) => r.value(index),)+
                }
            }

            /// A record of `kind` with nothing read yet: every nullable
            /// field null, required ones at a placeholder that a decoder
            /// must overwrite.
            pub(crate) fn empty(kind: RecordKind) -> Cdr {
                match kind {
                    $(RecordKind::$kind => Cdr::$kind($name::empty()),)+
                }
            }

            /// Column `index` of this record's kind, to be written; `None`
            /// past the last column.
            #[inline]
            pub(crate) fn slot(&mut self, index: usize) -> Option<$crate::field::Slot<'_>> {
                match self {
                    $(Cdr::$kind(r) => r.slot(index),)+
                }
            }
        }

        impl $crate::record::Timestamped for Cdr {
            fn datetime(&self) -> $crate::chrono::DateTime<$crate::chrono::Utc> {
                match self {
                    $(Cdr::$kind(r) => r.datetime,)+
                }
            }
        }
    };
}

pub(crate) use members;
