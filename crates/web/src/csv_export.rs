//! The one CSV writer behind every download (`?format=csv` lists, the CMDB export, invoices, reports,
//! timesheets, the audit log): see [`crate::page::csv_response`].
//!
//! **Formula injection.** A spreadsheet opening a CSV runs a cell that begins with `=`, `+`, `-` or `@` as
//! a formula (`=HYPERLINK("http://…","click")`), and tab or carriage return can hide such a start. Following
//! OWASP's guidance, a text cell that begins with one of those six characters is written with a single
//! quote `'` in front, which spreadsheets show as text. Plain numbers are left alone, so a negative amount
//! (`-12.50`) stays a number a spreadsheet can add up; anything else starting with `-` (`-1+1`, `-x`) is
//! text and gets the quote. The quote is visible to a program reading the file: strip one leading `'`
//! before one of those characters to get the value back.

use std::borrow::Cow;

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A plain decimal number, optionally negative: `-12`, `-1470.38`.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The cell as written: with a `'` in front when a spreadsheet would read it as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(TRIGGERS) && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The header and the rows as CSV, every cell neutralised.
pub fn write<R, C>(header: &[&str], rows: R) -> Result<Vec<u8>, csv::Error>
where
    R: IntoIterator<Item = Vec<C>>,
    C: AsRef<str>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header.iter().map(|h| neutralise(h).into_owned()))?;
    for r in rows {
        w.write_record(r.iter().map(|c| neutralise(c.as_ref()).into_owned()))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for (cell, out) in [
            (
                "=HYPERLINK(\"http://x.invalid\",\"click\")",
                "'=HYPERLINK(\"http://x.invalid\",\"click\")",
            ),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("-5.", "'-5."),
            ("-12.50", "-12.50"),
            ("-1470", "-1470"),
            ("12.50", "12.50"),
            ("Town of =Stoneham", "Town of =Stoneham"),
            ("'quoted", "'quoted"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), out, "{cell:?}");
        }
    }

    #[test]
    fn every_cell_of_a_file_is_neutralised() {
        let bytes = write(
            &["name", "amount"],
            [vec!["=1+2", "-3.00"], vec!["ok", "@x"]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "name,amount\n'=1+2,-3.00\nok,'@x\n"
        );
    }
}
