// Initializer of /api/graphiql: GraphiQL (static/vendor/graphiql@4.1.2, on
// React 18) over /api/v1/graphql. A file of its own, as the page's CSP
// allows no inline script.
(function () {
  "use strict";
  // GraphiQL's dialogs add a <style> element; they give it this nonce, so
  // the page's CSP accepts it.
  window.__webpack_nonce__ = document.currentScript.nonce;

  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint");
  var send = GraphiQL.createFetcher({ url: endpoint });

  var hint =
    "Sign in first: put an access token (POST /api/v1/auth/token) or an API key in the " +
    "Headers tab below, as {\"Authorization\": \"Bearer <token>\"} or {\"X-API-Key\": \"<key>\"}, " +
    "then re-fetch the schema (the arrows in the left bar) and run the query.";

  // A request without credentials would only be refused (401): say how
  // to sign in instead of sending it.
  function hasCredentials(headers) {
    for (var name in headers || {}) {
      var value = String(headers[name] || "").trim();
      var key = name.toLowerCase();
      if (key === "authorization" && /^bearer\s+[^\s<>]+$/i.test(value)) return true;
      if (key === "x-api-key" && value !== "" && value.indexOf("<") < 0) return true;
    }
    return false;
  }

  function fetcher(params, opts) {
    if (!hasCredentials(opts && opts.headers)) {
      return Promise.resolve({ errors: [{ message: hint, extensions: { code: "UNAUTHORIZED" } }] });
    }
    return send(params, opts);
  }

  var defaultQuery = [
    "# Tienda's GraphQL API: the same products and documents, rules and",
    "# permissions as the REST API. Sign in through the Headers tab below.",
    "query FirstProducts {",
    "  products(page: 1, pageSize: 5, sort: \"-updatedAt\") {",
    "    total",
    "    totalIsEstimate",
    "    hasNext",
    "    items { id name price stock version }",
    "  }",
    "}",
    "",
  ].join("\n");

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: '{\n  "Authorization": "Bearer <access token>"\n}',
      defaultEditorToolsVisibility: "headers",
      // Tokens and keys are not kept in the browser's storage.
      shouldPersistHeaders: false,
    })
  );
})();
