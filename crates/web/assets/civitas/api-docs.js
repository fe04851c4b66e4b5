// Starts the vendored Swagger UI on Civitas's own OpenAPI document (kept out of the page for the CSP).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
// Swagger UI renders some controls with no accessible name: the list of servers (a <select>) and the
// request body's editor (a <textarea>). Name them whenever they appear.
const nameControls = () => {
  for (const select of document.querySelectorAll("#swagger-ui select#servers:not([aria-label])")) {
    select.setAttribute("aria-label", "Server");
  }
  for (const body of document.querySelectorAll("#swagger-ui .body-param textarea:not([aria-label])")) {
    body.setAttribute("aria-label", "Request body (JSON)");
  }
};
nameControls();
new MutationObserver(nameControls).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
