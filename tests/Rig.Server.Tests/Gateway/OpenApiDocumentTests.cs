using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace Rig.Server.Tests.Gateway;

/// <summary>The OpenAPI document a real gateway serves, held against the endpoints it maps, and the reference page
/// beside it, on a real Kestrel over real TLS.</summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head"];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-openapi-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _token = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private HttpClient Client(AuthenticationHeaderValue? authorization)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(_server.Authority.Certificate.RawData));
        var handler = new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy, RemoteCertificateValidationCallback = (_, _, _, e) => e == SslPolicyErrors.None } };
        var client = new HttpClient(handler) { BaseAddress = _server.ApiUrl };
        client.DefaultRequestHeaders.Authorization = authorization;
        return client;
    }

    private AuthenticationHeaderValue Bearer => new("Bearer", _token);

    private static AuthenticationHeaderValue Basic(string user, string password) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    private async Task<JsonElement> DocumentAsync()
    {
        using var client = Client(Bearer);
        using var response = await client.GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>The documentation itself (the document, the reference page and its scripts) is not an operation.</summary>
    private static bool IsDocumentation(RouteEndpoint endpoint) => (endpoint.RoutePattern.RawText ?? "").StartsWith("/openapi", StringComparison.Ordinal);

    [Fact]
    public async Task Every_mapped_endpoint_is_documented_with_an_operation_id_a_success_schema_and_its_errors()
    {
        var document = await DocumentAsync();
        var paths = document.GetProperty("paths");
        var endpoints = _server.OperatorRouteEndpoints.Where(e => !IsDocumentation(e)).ToList();
        Assert.True(endpoints.Count >= 30, $"only {endpoints.Count} endpoints found");
        var operationIds = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var route = "/" + (endpoint.RoutePattern.RawText ?? "").TrimStart('/');
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                var where = $"{method} {route}";
                if (!paths.TryGetProperty(route, out var path) || !path.TryGetProperty(method.ToLowerInvariant(), out var operation))
                {
                    problems.Add($"{where}: mapped but not in the document");
                    continue;
                }
                if (!operation.TryGetProperty("operationId", out var id) || !operationIds.Add(id.GetString()!))
                    problems.Add($"{where}: no operationId, or one already used");
                if (!operation.TryGetProperty("tags", out var tags) || tags.EnumerateArray().Any(t => t.GetString() == "rig-api"))
                    problems.Add($"{where}: not tagged with its area");
                var responses = operation.GetProperty("responses").EnumerateObject().ToList();
                var success = responses.Where(r => r.Name.StartsWith('2')).ToList();
                if (success.Count == 0)
                    problems.Add($"{where}: no success response");
                foreach (var answer in success.Where(r => r.Name != "204"))
                {
                    if (SchemaOf(answer.Value) is not { } schema || !(schema.TryGetProperty("$ref", out _) || schema.TryGetProperty("type", out _)))
                        problems.Add($"{where}: success response {answer.Name} has no JSON schema");
                }
                if (!responses.Any(r => r.Name == "401"))
                    problems.Add($"{where}: 401 not documented");
                foreach (var error in responses.Where(r => r.Name[0] is '4' or '5'))
                {
                    if (SchemaOf(error.Value)?.TryGetProperty("$ref", out var reference) != true || reference.GetString() != "#/components/schemas/ApiErrorResponse")
                        problems.Add($"{where}: error {error.Name} is not documented with the one error schema");
                }
                var readsBody = endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is not null;
                var documentsBody = operation.TryGetProperty("requestBody", out var body);
                if (readsBody != documentsBody)
                    problems.Add($"{where}: reads a body: {readsBody}, documents one: {documentsBody}");
                if (documentsBody)
                {
                    if (!body.GetProperty("content").EnumerateObject().All(c => c.Value.TryGetProperty("schema", out _)))
                        problems.Add($"{where}: request body without a schema");
                    if (!responses.Any(r => r.Name == "413") || !responses.Any(r => r.Name == "400"))
                        problems.Add($"{where}: takes a body but documents no 400 or 413");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // And nothing in the document that is not mapped.
        var mapped = endpoints.SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => $"{m.ToLowerInvariant()} /{(e.RoutePattern.RawText ?? "").TrimStart('/')}")).ToHashSet();
        var documented = paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject().Where(o => Methods.Contains(o.Name)).Select(o => $"{o.Name} {p.Name}")).ToList();
        Assert.All(documented, d => Assert.Contains(d, mapped));
        Assert.Equal("getStatus", paths.GetProperty("/api/v1/status").GetProperty("get").GetProperty("operationId").GetString());
    }

    private static JsonElement? SchemaOf(JsonElement response) =>
        response.TryGetProperty("content", out var content) && content.TryGetProperty("application/json", out var json) && json.TryGetProperty("schema", out var schema) ? schema : null;

    [Fact]
    public async Task The_document_declares_the_bearer_scheme_for_every_operation_and_the_one_error_schema()
    {
        var document = await DocumentAsync();
        var components = document.GetProperty("components");
        var bearer = components.GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal("http", bearer.GetProperty("type").GetString());
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString());
        var requirement = Assert.Single(document.GetProperty("security").EnumerateArray());
        Assert.True(requirement.TryGetProperty("bearer", out _));

        var schemas = components.GetProperty("schemas");
        var envelope = schemas.GetProperty("ApiErrorResponse");
        Assert.Equal("#/components/schemas/ApiError", envelope.GetProperty("properties").GetProperty("error").GetProperty("$ref").GetString());
        var error = schemas.GetProperty("ApiError");
        var required = error.GetProperty("required").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(["code", "message"], required.Order());
        foreach (var property in new[] { "code", "message", "hint", "errors" })
            Assert.True(error.GetProperty("properties").TryGetProperty(property, out _), $"ApiError has no '{property}'");
    }

    [Fact]
    public async Task The_reference_page_and_its_document_are_not_served_without_a_valid_token()
    {
        foreach (var authorization in new AuthenticationHeaderValue?[] { null, Basic("operator", "rigop_wrong"), new("Bearer", "rigop_wrong") })
        {
            using var client = Client(authorization);
            foreach (var path in new[] { "openapi/", "openapi/v1", "openapi/v1.json", "openapi/scalar.js" })
            {
                using var response = await client.GetAsync(path);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"GET {path} with '{authorization}' answered {(int)response.StatusCode}");
                Assert.DoesNotContain("operationId", body, StringComparison.Ordinal);
                Assert.DoesNotContain("<html", body, StringComparison.OrdinalIgnoreCase);
                // A browser asks for the token (as the password of its login prompt).
                Assert.Contains(response.Headers.WwwAuthenticate, c => c.Scheme == "Basic" && c.Parameter!.Contains("realm=", StringComparison.Ordinal));
                Assert.Equal(authorization is null ? "unauthorized" : "token-refused",
                    JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
            }
        }
    }

    [Fact]
    public async Task A_browser_reads_the_reference_page_with_the_token_as_its_login_password()
    {
        using var client = Client(Basic("anyone", _token));
        using var page = await client.GetAsync("openapi/v1");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("\"openapi/v1.json\"", html, StringComparison.Ordinal);

        // Everything the page loads comes from the gateway, under the same directory, so the browser sends the same credentials.
        using var script = await client.GetAsync("openapi/scalar.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 100_000);
        using var document = await client.GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.Contains("\"getStatus\"", await document.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Basic_credentials_open_only_the_documentation_never_the_api()
    {
        // A browser attaches credentials it has cached to any request to the gateway, even one another site makes it
        // send: Basic must not change anything nor read anything but the documentation.
        using var client = Client(Basic("anyone", _token));
        foreach (var (method, path) in new[] { ("GET", "api/v1/status"), ("POST", "api/v1/converge"), ("GET", "api/v1/devices") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? new StringContent("{}", Encoding.UTF8, "application/json") : null };
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("unauthorized", error.GetProperty("code").GetString());
            Assert.Contains("'Basic'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        }
    }

    [Fact]
    public void No_operator_api_code_answers_an_error_outside_the_one_error_shape()
    {
        // ApiError alone is not the wire shape: every error answer goes through ApiErrors.Json ({"error":{...}}).
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Rig.slnx")))
            root = root.Parent;
        Assert.NotNull(root);
        var offenders = Directory.EnumerateFiles(Path.Combine(root.FullName, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(l => l.line.Contains("Results.Json(new ApiError(", StringComparison.Ordinal))
            .Select(l => $"{Path.GetRelativePath(root.FullName, l.f)}:{l.i + 1}")
            .ToList();
        Assert.True(offenders.Count == 0, "write ApiErrors.Json(new ApiError(...), statusCode: N) instead of Results.Json(new ApiError(...), ...) at:\n" + string.Join("\n", offenders));
    }
}
