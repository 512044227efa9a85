using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Server.Api;

namespace Rig.Cli.Operator;

/// <summary>An error from the operator API, with the server's message (and its hint, <see cref="ApiError.Hint"/>).</summary>
public sealed class OperatorApiException(int status, ApiError error) : Exception(error.Message)
{
    /// <summary>HTTP status.</summary>
    public int Status { get; } = status;
    /// <summary>The error body.</summary>
    public ApiError Error { get; } = error;
}

/// <summary>Talks to the gateway's operator API over HTTPS with a bearer token, trusting only Rig's CA.</summary>
public sealed class OperatorClient : IDisposable
{
    /// <summary>JSON options of the operator API (web defaults: camelCase).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly HttpClient _http;

    /// <summary>A client for <paramref name="api"/> with <paramref name="token"/>, trusting <paramref name="ca"/>.</summary>
    public OperatorClient(Uri api, string token, X509Certificate2 ca)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = Rig.Protocol.Trust.OnlyRoot(ca),
                RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None,
            },
        };
        _http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromMinutes(10) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>GET a JSON resource.</summary>
    public async Task<T> GetAsync<T>(string path, CancellationToken ct = default)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, path), ct).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false))!;
    }

    /// <summary>POST JSON and read JSON.</summary>
    public async Task<T> PostAsync<T>(string path, object? body, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body, options: Json) };
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false))!;
    }

    /// <summary>PUT raw JSON text and read JSON.</summary>
    public async Task<T> PutJsonTextAsync<T>(string path, string json, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false))!;
    }

    /// <summary>POST raw JSON text and read JSON; an API error with model errors is thrown as <see cref="OperatorApiException"/>.</summary>
    public async Task<T> PostJsonTextAsync<T>(string path, string json, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false))!;
    }

    /// <summary>Upload a package file.</summary>
    public async Task<PackageAddResponse> AddPackageAsync(string file, CancellationToken ct = default)
    {
        await using var stream = File.OpenRead(file);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/packages?filename={Uri.EscapeDataString(Path.GetFileName(file))}") { Content = new StreamContent(stream) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<PackageAddResponse>(Json, ct).ConfigureAwait(false))!;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"Cannot reach the gateway's operator API at {_http.BaseAddress}: {e.Message}. Is `rig server run` running, and are --server and --ca right?");
        }
        if (response.IsSuccessStatusCode)
            return response;
        using (response)
        {
            ApiError? error = null;
            try
            {
                // The operator API's one error shape: {"error":{"code","message","hint"?,"errors"?}}.
                error = (await response.Content.ReadFromJsonAsync<ApiErrorResponse>(Json, ct).ConfigureAwait(false))?.Error;
            }
            catch (Exception e) when (e is JsonException or NotSupportedException)
            {
                // Not JSON (a proxy's page, an empty body): the status says it all.
            }
            throw new OperatorApiException((int)response.StatusCode, error ?? new ApiError("http-" + (int)response.StatusCode, $"The operator API answered {(int)response.StatusCode} {response.ReasonPhrase}."));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}

/// <summary>A user-facing CLI error: the message says what was wrong and what to do.</summary>
public sealed class CliException(string message) : Exception(message);
