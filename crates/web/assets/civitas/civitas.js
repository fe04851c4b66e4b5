// Small enhancements on top of htmx, kept out of the pages for the Content-Security-Policy.
// While htmx replaces a region, mark it busy for screen readers; move focus to an error summary if one
// appears, so keyboard and screen-reader users land on it.
document.addEventListener("htmx:beforeRequest", (e) => {
  const target = e.detail.target;
  if (target) target.setAttribute("aria-busy", "true");
});
document.addEventListener("htmx:afterSettle", (e) => {
  const target = e.detail.target;
  if (target) target.removeAttribute("aria-busy");
});
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
// Keyboard shortcuts on a ticket page (only when not typing in a field): r reply, s status, a assignee,
// g then q back to the queue. They only move focus; nothing is submitted without the person's action.
(() => {
  let pendingG = false;
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const focus = (id) => {
      const el = document.getElementById(id);
      if (el) { e.preventDefault(); el.focus(); }
    };
    if (pendingG && e.key === "q") { pendingG = false; window.location.href = "/tickets"; return; }
    pendingG = e.key === "g";
    if (e.key === "r") focus("field-body");
    else if (e.key === "s") focus("field-status");
    else if (e.key === "a") focus("field-assignee_id");
  });
})();
// Canned replies: choosing one fills the message box (which stays editable).
document.addEventListener("change", (e) => {
  const sel = e.target;
  if (!(sel instanceof HTMLSelectElement) || !sel.dataset.fills) return;
  const box = document.getElementById(sel.dataset.fills);
  const opt = sel.selectedOptions[0];
  if (box && opt && opt.dataset.body) {
    box.value = opt.dataset.body;
    box.focus();
  }
});
// Portal: while a requester types a subject, suggest knowledge-base articles (htmx, if present).
document.addEventListener("DOMContentLoaded", () => {
  const subject = document.getElementById("field-subject");
  const box = document.getElementById("kb-suggestions");
  if (!subject || !box || !window.htmx) return;
  let timer = null;
  subject.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      window.htmx.ajax("GET", "/kb/suggest?subject=" + encodeURIComponent(subject.value), { target: box, swap: "innerHTML" });
    }, 300);
  });
});

// "Print this report" buttons (the page works without them: the browser's own print does the same).
document.addEventListener("click", (e) => {
  if (e.target instanceof Element && e.target.closest("[data-print]")) {
    window.print();
  }
});
// "Go back to the form" on an error page: the browser's own back keeps what was typed; the link's address
// (the form's page, fresh) is the fallback when there is no history.
document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[data-back]");
  if (a && window.history.length > 1) { e.preventDefault(); window.history.back(); }
});
