// Starts the vendored Swagger UI on Civitas's own OpenAPI document (kept out of the page for the CSP).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
// Swagger UI renders the list of servers as a <select> with no accessible name: name it whenever it appears.
const nameServers = () => {
  for (const select of document.querySelectorAll("#swagger-ui select#servers:not([aria-label])")) {
    select.setAttribute("aria-label", "Server");
  }
};
nameServers();
new MutationObserver(nameServers).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
