// The API explorer: Swagger UI on this service's OpenAPI schema. No online validator badge (it would load an
// image from validator.swagger.io), no deep links into another origin.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "docs.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
