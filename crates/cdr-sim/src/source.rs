//! What a listing serves: generated and late records of one type merged in
//! (datetime, id) order, as the hooks of the type change them.

use std::sync::Arc;

use cdr_core::{Cdr, CdrType, RecordKind};
use rust_decimal::Decimal;

use crate::cells::cells_to_cdr;
use crate::data::{DataModel, GenIter, GenRecord, Key};
use crate::hooks::{Override, TypeHooks};
use crate::text::Cell;

/// Ids of records added with `insert_late` start here, so that they sort after
/// generated records of the same datetime.
pub(crate) const LATE_ID_BASE: u64 = 1 << 63;

/// A record added with `insert_late`.
#[derive(Debug, Clone)]
pub(crate) struct Late {
    pub key: Key,
    pub cdr: Cdr,
}

impl Late {
    fn money_as_string(&self) -> bool {
        self.key.id & 1 == 1
    }

    fn cell(&self, col: usize) -> Cell<'_> {
        use cdr_core::Value;
        match self.cdr.value(col) {
            Value::Null => Cell::Null,
            Value::Timestamp(t) => Cell::Time(t.timestamp_nanos_opt().unwrap_or_default()),
            Value::Decimal(d) => Cell::Money {
                mantissa: d.mantissa(),
                scale: d.scale(),
            },
            Value::Int64(v) => Cell::Int(v),
            Value::Str(s) => Cell::Str(s),
        }
    }
}

/// The position a late record gets, or `None` when its datetime cannot be
/// represented (outside 1677..2262 or a leap second).
pub(crate) fn late_key(cdr: &Cdr, id: u64) -> Option<Key> {
    use cdr_core::Timestamped;
    let t = cdr.datetime();
    if t.timestamp_subsec_nanos() >= 1_000_000_000 {
        return None;
    }
    Some(Key {
        ns: t.timestamp_nanos_opt()?,
        id,
    })
}

/// A row of a [`Source`]: a generated record or an index into the late list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row {
    Gen(GenRecord),
    Late(usize),
}

#[derive(Debug, Clone, Copy)]
enum RowRef<'a> {
    Gen(&'a GenRecord),
    Late(&'a Late),
}

/// A row with access to its cells, as the hooks of its type change them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowView<'a> {
    row: RowRef<'a>,
    hooks: &'a TypeHooks,
}

impl<'a> RowView<'a> {
    pub(crate) fn key(&self) -> Key {
        match self.row {
            RowRef::Gen(g) => g.key,
            RowRef::Late(l) => l.key,
        }
    }

    pub(crate) fn kind(&self) -> RecordKind {
        match self.row {
            RowRef::Gen(g) => g.kind(),
            RowRef::Late(l) => l.cdr.kind(),
        }
    }

    pub(crate) fn money_as_string(&self) -> bool {
        match self.row {
            RowRef::Gen(g) => g.money_as_string(),
            RowRef::Late(l) => l.money_as_string(),
        }
    }

    /// Column `col` of the row's kind, re-rated when a hook says so.
    pub(crate) fn cell(&self, col: usize) -> Cell<'a> {
        let cell = match self.row {
            RowRef::Gen(g) => g.cell(col),
            RowRef::Late(l) => l.cell(col),
        };
        match cell {
            Cell::Money { mantissa, scale }
                if self.hooks.has_rerates() && is_charge(self.kind(), col) =>
            {
                match self.hooks.charge_delta(self.key().ns) {
                    None => cell,
                    Some(delta) => match Decimal::try_from_i128_with_scale(mantissa, scale) {
                        Ok(d) => {
                            let changed = d + delta;
                            Cell::Money {
                                mantissa: changed.mantissa(),
                                scale: changed.scale(),
                            }
                        }
                        Err(_) => cell,
                    },
                }
            }
            other => other,
        }
    }

    /// The member of unknown type this row is served as, if any (only
    /// generated records are).
    pub(crate) fn unknown(&self) -> Option<&'a str> {
        match self.row {
            RowRef::Gen(g) => self.hooks.unknown_for(g.key.id),
            RowRef::Late(_) => None,
        }
    }

    /// The values of this row replaced by JSON text, if any.
    pub(crate) fn overrides(&self) -> Option<&'a [Override]> {
        self.hooks.overrides(&self.key())
    }

    /// Whether an archive of `t` should hold this row: a record of `t`'s
    /// member, served as such, with values that can be stored.
    pub(crate) fn is_record_of(&self, t: CdrType) -> bool {
        self.kind() == t.record_kind() && self.unknown().is_none() && self.overrides().is_none()
    }

    pub(crate) fn to_cdr(self) -> Cdr {
        match self.row {
            RowRef::Late(l) if self.hooks.charge_delta(l.key.ns).is_none() => l.cdr.clone(),
            _ => cells_to_cdr(self.kind(), |c| self.cell(c)),
        }
    }
}

/// Whether column `col` of `kind` is `charge`.
fn is_charge(kind: RecordKind, col: usize) -> bool {
    kind.columns()
        .get(col)
        .is_some_and(|c| c.graphql == "charge")
}

/// Generated and late records of one type merged in (datetime, id) order,
/// without the records a hook removed.
pub(crate) struct Source {
    model: DataModel,
    t: CdrType,
    end_ns: i64,
    generated: GenIter,
    pending: Option<GenRecord>,
    late: Arc<Vec<Late>>,
    li: usize,
    lend: usize,
    hooks: Arc<TypeHooks>,
}

impl Source {
    /// Records of `t` with `start_ns <= datetime < end_ns` after `after`.
    pub(crate) fn new(
        model: DataModel,
        t: CdrType,
        late: Arc<Vec<Late>>,
        hooks: Arc<TypeHooks>,
        start_ns: i64,
        end_ns: i64,
        after: Option<Key>,
    ) -> Source {
        let mut generated = GenIter::new(model, t, start_ns, end_ns, after);
        let pending = generated.next();
        let li = late.partition_point(|l| l.key.ns < start_ns || after.is_some_and(|a| l.key <= a));
        let lend = late.partition_point(|l| l.key.ns < end_ns).max(li);
        Source {
            model,
            t,
            end_ns,
            generated,
            pending,
            late,
            li,
            lend,
            hooks,
        }
    }

    fn merged_next(&mut self) -> Option<Row> {
        let late = (self.li < self.lend).then(|| self.late[self.li].key);
        match (self.pending, late) {
            (Some(g), Some(l)) if l < g.key => {
                self.li += 1;
                Some(Row::Late(self.li - 1))
            }
            (Some(g), _) => {
                self.pending = self.generated.next();
                Some(Row::Gen(g))
            }
            (None, Some(_)) => {
                self.li += 1;
                Some(Row::Late(self.li - 1))
            }
            (None, None) => None,
        }
    }

    pub(crate) fn next_row(&mut self) -> Option<Row> {
        loop {
            let row = self.merged_next()?;
            let ns = match &row {
                Row::Gen(g) => g.key.ns,
                Row::Late(i) => self.late[*i].key.ns,
            };
            let Some(until) = self.hooks.removed_until(ns) else {
                return Some(row);
            };
            if let Row::Gen(_) = row {
                // Jump over the removed range rather than list it.
                self.generated = GenIter::new(self.model, self.t, until, self.end_ns, None);
                self.pending = self.generated.next();
            }
        }
    }

    /// The row after `n` others.
    pub(crate) fn nth_row(&mut self, n: u64) -> Option<Row> {
        for _ in 0..n {
            self.next_row()?;
        }
        self.next_row()
    }

    pub(crate) fn view<'a>(&'a self, row: &'a Row) -> RowView<'a> {
        RowView {
            row: match row {
                Row::Gen(g) => RowRef::Gen(g),
                Row::Late(i) => RowRef::Late(&self.late[*i]),
            },
            hooks: &self.hooks,
        }
    }
}

impl Iterator for Source {
    type Item = Cdr;

    fn next(&mut self) -> Option<Cdr> {
        let row = self.next_row()?;
        Some(self.view(&row).to_cdr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::window_ns;
    use cdr_core::Timestamped;
    use chrono::DateTime;

    use crate::data::fixtures::{model, w};

    #[test]
    fn late_records_merge_in_key_order() {
        let m = model();
        let win = w("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
        let (s, e) = window_ns(win);
        let generated: Vec<Cdr> = m.records(CdrType::Api, win).collect();
        assert!(!generated.is_empty());
        let mut late: Vec<Late> = [0i64, 30_000_000_000, 0]
            .iter()
            .enumerate()
            .map(|(k, &off)| {
                let mut cdr = generated[0].clone();
                if let Cdr::Api(a) = &mut cdr {
                    a.datetime = DateTime::from_timestamp_nanos(s + off);
                    a.status = Some(format!("late {k}").into());
                }
                Late {
                    key: late_key(&cdr, LATE_ID_BASE + k as u64).unwrap(),
                    cdr,
                }
            })
            .collect();
        late.sort_by_key(|l| l.key);
        let merged: Vec<Cdr> =
            Source::new(m, CdrType::Api, Arc::new(late), Arc::default(), s, e, None).collect();
        let is_late = |c: &Cdr| matches!(c, Cdr::Api(a) if a.status.as_deref().is_some_and(|x| x.starts_with("late")));
        let late_order: Vec<cdr_core::Text> = merged
            .iter()
            .filter(|c| is_late(c))
            .filter_map(|c| match c {
                Cdr::Api(a) => a.status.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(merged.len(), generated.len() + 3);
        assert_eq!(late_order, ["late 0", "late 2", "late 1"]);
        assert!(
            merged
                .windows(2)
                .all(|p| p[0].datetime() <= p[1].datetime())
        );
        // At one datetime, generated records come before late ones.
        let at_start: Vec<bool> = merged
            .iter()
            .filter(|c| c.datetime() == win.start())
            .map(is_late)
            .collect();
        assert!(
            at_start.len() >= 3 && at_start.windows(2).all(|p| p[0] <= p[1]),
            "{at_start:?}"
        );
        assert!(!at_start[0]);
    }
}
