// Starts the vendored Swagger UI on Civitas's own OpenAPI document (kept out of the page for the CSP).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
// Swagger UI renders some controls with no accessible name: the list of servers (a <select>), the request
// body's editor (a <textarea>) and a parameter's choices (a <select> for a vocabulary), and examples that
// scroll without being reachable by keyboard. Name them, and make those reachable, whenever they appear.
const nameControls = () => {
  for (const select of document.querySelectorAll("#swagger-ui select#servers:not([aria-label])")) {
    select.setAttribute("aria-label", "Server");
  }
  for (const body of document.querySelectorAll("#swagger-ui .body-param textarea:not([aria-label])")) {
    body.setAttribute("aria-label", "Request body (JSON)");
  }
  for (const control of document.querySelectorAll(
    "#swagger-ui .parameters-col_description :is(select, input, textarea):not([aria-label])",
  )) {
    const row = control.closest("tr[data-param-name]");
    const name = row ? row.getAttribute("data-param-name") : "value";
    const place = row ? row.getAttribute("data-param-in") : "";
    control.setAttribute("aria-label", place ? `${name} (${place})` : name);
  }
  // An example (of a request or an answer) scrolls when it is longer or wider than its box: reachable by
  // keyboard, and named, so that it can be scrolled without a mouse.
  for (const example of document.querySelectorAll("#swagger-ui .highlight-code > .microlight:not([tabindex])")) {
    example.setAttribute("tabindex", "0");
    example.setAttribute("role", "region");
    example.setAttribute("aria-label", "Example");
  }
};
nameControls();
new MutationObserver(nameControls).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
