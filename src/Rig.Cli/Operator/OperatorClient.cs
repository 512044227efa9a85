using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Contracts;

namespace Rig.Cli.Operator;

/// <summary>An error from the operator API, with the server's message (and its hint, <see cref="ApiError.Hint"/>).</summary>
/// <remarks>Retry-safe when the gateway or a proxy in front of it was unavailable (502, 503, 504) or asked to slow down (429).</remarks>
internal sealed class OperatorApiException(int status, ApiError error)
    : Rig.Protocol.Errors.RigException(error.Code, error.Message, retrySafe: status is 429 or 502 or 503 or 504)
{
    /// <summary>HTTP status.</summary>
    public int Status { get; } = status;
    /// <summary>The error body.</summary>
    public ApiError Error { get; } = error;

    /// <summary>What to do next.</summary>
    public string? Hint => Error.Hint ?? Status switch
    {
        401 => "Check --token / RIG_TOKEN (or the context's token file): the gateway did not accept it.",
        _ => null,
    };
}

/// <summary>Talks to the gateway's operator API over HTTPS with a bearer token, trusting only Rig's CA.</summary>
internal sealed class OperatorClient : IDisposable
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

    /// <summary>Send a request with an optional JSON body (PUT, DELETE...) and read JSON.</summary>
    public async Task<T> SendJsonAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body, options: Json) };
        using var response = await SendAsync(request, ct).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false))!;
    }

    /// <summary>DELETE a resource (the answer has no body).</summary>
    public async Task DeleteAsync(string path, CancellationToken ct = default)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Delete, path), ct).ConfigureAwait(false);
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

    /// <summary>GET a stream of lines (NDJSON), each as it arrives; ends when the server ends the response. A broken
    /// connection throws <see cref="IOException"/> or <see cref="HttpRequestException"/>.</summary>
    public async IAsyncEnumerable<string> StreamLinesAsync(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        // Headers only: the client's overall timeout must not cut a stream that follows a long queue.
        using var response = await SendAsync(request, ct, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var reader = new StreamReader(body, System.Text.Encoding.UTF8);
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
                yield return line;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is System.Security.Authentication.AuthenticationException)
        {
            throw new CliException($"The gateway at {_http.BaseAddress} did not prove it is the gateway of the CA you trust: {e.InnerException.Message}",
                "untrusted-gateway", "Check --ca (or the context's CA pin): it must be the gateway's DATA/ca/ca.crt.");
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"Cannot reach the gateway's operator API at {_http.BaseAddress}: {e.Message}.",
                "gateway-unreachable", "Is `rig server run` running there, and are --server (or the context) and the port right?", ExitCodes.Unavailable);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliException($"The gateway's operator API at {_http.BaseAddress} did not answer within {_http.Timeout.TotalMinutes:0} minutes.",
                "gateway-timeout", "Check the gateway's log and `rig status`; the request may still complete on the gateway.", ExitCodes.Unavailable);
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
