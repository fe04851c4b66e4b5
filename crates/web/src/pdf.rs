//! Invoices as PDF: US Letter pages written with pdf-writer in the standard Helvetica and Courier fonts
//! (every PDF reader has them, so nothing is embedded), text in Windows-1252 ("WinAnsi"). Amounts are set in
//! Courier so that they line up on the right. Content streams are left uncompressed: small, and their text
//! can be read back by the tests.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// What an invoice PDF shows.
pub struct InvoiceDoc<'a> {
    pub region: &'a str,
    pub title: &'a str,
    pub facts: Vec<(&'a str, String)>,
    /// (description, quantity, unit price, amount), already formatted.
    pub lines: Vec<(String, String, String, String)>,
    pub total: String,
    pub footer: &'a str,
}

const WIDTH: f32 = 612.0;
const HEIGHT: f32 = 792.0;
const MARGIN: f32 = 54.0;
const LINES_PER_PAGE: usize = 32;

/// Text as Windows-1252 bytes; characters outside it become `?`.
pub fn winansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

/// Cuts text to `max` characters, with an ellipsis.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

struct Writer {
    content: Content,
}

impl Writer {
    fn text(&mut self, font: &[u8], size: f32, x: f32, y: f32, s: &str) {
        self.content.begin_text();
        self.content.set_font(Name(font), size);
        self.content.next_line(x, y);
        self.content.show(Str(&winansi(s)));
        self.content.end_text();
    }

    /// Courier text ending at `right`.
    fn right(&mut self, size: f32, right: f32, y: f32, s: &str) {
        let width = 0.6 * size * s.chars().count() as f32;
        self.text(b"F2", size, right - width, y, s);
    }

    fn rule(&mut self, y: f32) {
        self.content.set_line_width(0.5);
        self.content.move_to(MARGIN, y);
        self.content.line_to(WIDTH - MARGIN, y);
        self.content.stroke();
    }
}

/// The PDF of an invoice or credit note.
pub fn invoice(doc: &InvoiceDoc<'_>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let info = Ref::new(3);
    let helvetica = Ref::new(4);
    let courier = Ref::new(5);
    let helvetica_bold = Ref::new(6);
    let mut next = 7;
    let chunks: Vec<&[(String, String, String, String)]> = if doc.lines.is_empty() {
        vec![&[]]
    } else {
        doc.lines.chunks(LINES_PER_PAGE).collect()
    };
    let pages: Vec<(Ref, Ref)> = chunks
        .iter()
        .map(|_| {
            let p = (Ref::new(next), Ref::new(next + 1));
            next += 2;
            p
        })
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|p| p.0))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    pdf.document_info(info)
        .title(TextStr(doc.title))
        .creator(TextStr("Civitas"));
    for (font, name) in [
        (helvetica, &b"Helvetica"[..]),
        (courier, &b"Courier"[..]),
        (helvetica_bold, &b"Helvetica-Bold"[..]),
    ] {
        pdf.type1_font(font)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let count = pages.len();
    for (i, ((page_id, content_id), lines)) in pages.iter().zip(chunks).enumerate() {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        {
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), helvetica);
            fonts.pair(Name(b"F2"), courier);
            fonts.pair(Name(b"F3"), helvetica_bold);
        }
        page.finish();
        let mut w = Writer {
            content: Content::new(),
        };
        let mut y = HEIGHT - MARGIN;
        w.text(b"F1", 10.0, MARGIN, y, doc.region);
        y -= 26.0;
        w.text(b"F3", 18.0, MARGIN, y, doc.title);
        y -= 22.0;
        if i == 0 {
            for (label, value) in &doc.facts {
                w.text(b"F3", 10.0, MARGIN, y, label);
                w.text(b"F1", 10.0, MARGIN + 90.0, y, value);
                y -= 14.0;
            }
            y -= 10.0;
        }
        w.text(b"F3", 9.0, MARGIN, y, "Description");
        w.right(9.0, 400.0, y, "Quantity");
        w.right(9.0, 480.0, y, "Unit price");
        w.right(9.0, WIDTH - MARGIN, y, "Amount");
        y -= 6.0;
        w.rule(y);
        y -= 14.0;
        for (description, quantity, price, amount) in lines {
            w.text(b"F1", 9.0, MARGIN, y, &clip(description, 60));
            w.right(9.0, 400.0, y, &clip(quantity, 12));
            w.right(9.0, 480.0, y, price);
            w.right(9.0, WIDTH - MARGIN, y, amount);
            y -= 14.0;
        }
        if i + 1 == count {
            w.rule(y + 8.0);
            y -= 6.0;
            w.text(b"F3", 11.0, MARGIN, y, "Total");
            w.right(11.0, WIDTH - MARGIN, y, &doc.total);
        }
        w.text(b"F1", 8.0, MARGIN, MARGIN, doc.footer);
        w.right(
            8.0,
            WIDTH - MARGIN,
            MARGIN,
            &format!("Page {} of {count}", i + 1),
        );
        pdf.stream(*content_id, &w.content.finish());
    }
    pdf.finish()
}

/// The text a PDF written here shows, one string per `Tj`, in order: for tests and for the plain-text view.
pub fn shown_text(pdf: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pdf.len() {
        if pdf[i] == b'(' {
            let mut s = Vec::new();
            let mut j = i + 1;
            let mut depth = 1;
            while j < pdf.len() {
                match pdf[j] {
                    b'\\' if j + 1 < pdf.len() => {
                        s.push(pdf[j + 1]);
                        j += 2;
                        continue;
                    }
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                s.push(pdf[j]);
                j += 1;
            }
            let after = pdf.get(j + 1..j + 4).unwrap_or(&[]);
            if after.starts_with(b" Tj") {
                out.push(s.iter().map(|b| char::from(*b)).collect());
            }
            i = j + 1;
        } else if pdf[i] == b'<'
            && pdf.get(i + 1) != Some(&b'<')
            && pdf.get(i.wrapping_sub(1)) != Some(&b'<')
        {
            // A hex string (pdf-writer writes text with bytes outside ASCII this way).
            let end = pdf[i..]
                .iter()
                .position(|b| *b == b'>')
                .map_or(pdf.len(), |p| i + p);
            let hex: Vec<u8> = pdf[i + 1..end]
                .iter()
                .copied()
                .filter(u8::is_ascii_hexdigit)
                .collect();
            if pdf.get(end + 1..end + 4).unwrap_or(&[]).starts_with(b" Tj") {
                let bytes = hex
                    .chunks(2)
                    .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok());
                out.push(bytes.map(char::from).collect());
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_pdf_shows_its_lines_and_total_on_as_many_pages_as_it_needs() {
        let lines: Vec<_> = (1..=40)
            .map(|i| {
                (
                    format!("Email — per mailbox, line {i}"),
                    "120".to_owned(),
                    "$6.50".to_owned(),
                    "$780.00".to_owned(),
                )
            })
            .collect();
        let bytes = invoice(&InvoiceDoc {
            region: "Melrose Regional Shared IT Services",
            title: "Invoice INV-000001",
            facts: vec![("Member", "Town of North Reading".into())],
            lines,
            total: "$31,200.00".into(),
            footer: "Pay within 30 days.",
        });
        assert!(bytes.starts_with(b"%PDF-"));
        let text = shown_text(&bytes);
        assert!(text.contains(&"Invoice INV-000001".to_owned()));
        assert!(text.contains(&"$31,200.00".to_owned()));
        assert!(text.contains(&"Page 2 of 2".to_owned()), "{text:?}");
        // The em dash is Windows-1252's 0x97, read back as that byte.
        assert!(
            text.iter()
                .any(|t| t.starts_with("Email \u{97} per mailbox")),
            "{text:?}"
        );
    }

    #[test]
    fn text_outside_windows_1252_becomes_a_question_mark() {
        assert_eq!(
            winansi("Café — 5 × 3 → 15"),
            b"Caf\xe9 \x97 5 \xd7 3 ? 15".to_vec()
        );
    }
}
