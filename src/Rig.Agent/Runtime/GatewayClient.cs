using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Protocol.Errors;

namespace Rig.Agent.Runtime;

/// <summary>A transport failure: the request may not have reached the gateway, or its answer was lost.
/// Retrying is safe because every exchange is idempotent (command ids, journal).</summary>
internal sealed class GatewayUnavailableException(string message, Exception? inner = null) : RigException("gateway-unavailable", message, retrySafe: true, inner);

/// <summary>The gateway could not be reached for <see cref="RigLimits.GatewayUnreachableDeadline"/>: the message is one line
/// naming the gateway, the last failure and what to check. The agent's command line exits with 69 (EX_UNAVAILABLE).</summary>
internal sealed class GatewayUnreachableException(Uri gateway, TimeSpan triedFor, string? lastFailure)
    : RigException("gateway-unreachable", Describe(gateway, triedFor, lastFailure, "then run this command again"), retrySafe: true)
{
    /// <summary>One line: the gateway, for how long and why it did not answer, what to check, and <paramref name="then"/>.</summary>
    public static string Describe(Uri gateway, TimeSpan triedFor, string? lastFailure, string then)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        return $"Cannot reach the gateway at {gateway} (tried for {triedFor.TotalSeconds:0} s; last error: {lastFailure ?? "none"}). "
            + $"Check that '{gateway.Host}' resolves on this device (DNS), that port {gateway.Port} is reachable from here (firewall), and that "
            + $"`rig server run` is running on the gateway; {then}.";
    }

    /// <summary>The gateway's URL.</summary>
    public Uri Gateway { get; } = gateway;

    /// <summary>The most telling reason of a transport failure, in a few words: the socket's error ("Connection refused",
    /// "Name or service not known"), a timeout, a TLS failure; otherwise the exception's first line.</summary>
    public static string Cause(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        for (var e = failure; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SocketException socket:
                    return socket.Message;
                case TimeoutException:
                    return "no answer in time (the connection or TLS handshake timed out)";
                case System.Security.Authentication.AuthenticationException tls:
                    return $"the TLS handshake failed ({tls.Message.Split('\n')[0].TrimEnd()})";
            }
        }
        return failure.Message.Split('\n')[0].TrimEnd();
    }
}

/// <summary>The gateway refused the request (4xx): retrying the same request will not help. The agent decides what to
/// do from <see cref="Refusal"/>; <see cref="RigException.Code"/> keeps the wire code also when this agent does not know it.</summary>
internal sealed class GatewayRefusalException(int status, string code, string message) : RigException(code, message, retrySafe: false)
{
    /// <summary>HTTP status (for messages; decisions use <see cref="Refusal"/>).</summary>
    public int Status { get; } = status;
    /// <summary>The refusal, or null for a code this agent does not know (a newer gateway, a proxy's <c>http-403</c>).</summary>
    public RefusalCode? Refusal { get; } = RefusalCodes.Parse(code);
    /// <summary>With <see cref="RefusalCode.MissingResults"/>: the commands whose results the gateway needs first.</summary>
    public IReadOnlyList<string>? Missing { get; init; }
}

/// <summary>One session's connection to the gateway: mutual TLS with the device's certificate, the gateway's
/// certificate checked against the pinned CA only. A new client (a NEW connection) per session; within the
/// session the connection is kept alive until the queue answers "no command" (docs/PROTOCOL.md).</summary>
internal sealed class GatewayClient : IDisposable
{
    /// <summary>Bytes a download receives before it hashes and writes them: large enough that the disk sees few large
    /// writes and the hash runs over long stretches; two such buffers per download in flight.</summary>
    private const int DownloadChunkBytes = 1 << 20;

    private readonly HttpClient _http;
    private readonly RigLimits _limits;

    /// <summary>A client for <paramref name="gateway"/> presenting <paramref name="clientCertificate"/> (may be
    /// null for enrollment) and trusting only <paramref name="pinnedCa"/>.</summary>
    public GatewayClient(Uri gateway, X509Certificate2? clientCertificate, X509Certificate2 pinnedCa, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(pinnedCa);
        _limits = limits;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = limits.ConnectTimeout,
            PooledConnectionIdleTimeout = limits.KeepAliveIdle,
            MaxConnectionsPerServer = 2,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                // The chain is built once, by the handshake, with the pinned CA as the only root (CHECKLIST 8).
                CertificateChainPolicy = Trust.OnlyRoot(pinnedCa),
                RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None,
            },
        };
        _http = new HttpClient(handler)
        {
            BaseAddress = gateway,
            Timeout = Timeout.InfiniteTimeSpan, // per-request deadlines below
            MaxResponseContentBufferSize = limits.MaxResponseBodyBytes,
        };
    }

    /// <summary>One exchange.</summary>
    public async Task<ExchangeResponse> ExchangeAsync(ExchangeRequest request, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.ExchangeRequest);
        var bytes = await PostAsync(ProtocolInfo.ExchangePath, body, ct).ConfigureAwait(false);
        return RigJson.Parse(bytes, RigJson.Default.ExchangeResponse, "The gateway's answer");
    }

    /// <summary>Enroll (no client certificate yet).</summary>
    public async Task<EnrollResponse> EnrollAsync(EnrollRequest request, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.EnrollRequest);
        var bytes = await PostAsync(ProtocolInfo.EnrollPath, body, ct).ConfigureAwait(false);
        return RigJson.Parse(bytes, RigJson.Default.EnrollResponse, "The gateway's enrollment answer");
    }

    /// <summary>Download a blob by digest into <paramref name="partialPath"/> (resuming a partial download with a
    /// range request), verify length and SHA-256, and move it to <paramref name="finalPath"/>. On a mismatch the
    /// temp file is removed and nothing is kept (CHECKLIST 13).</summary>
    public async Task DownloadBlobAsync(string sha256, long size, string partialPath, string finalPath, CancellationToken ct)
    {
        if (!Names.IsValidSha256(sha256))
            throw new ArgumentException($"'{sha256}' is not a SHA-256 digest.", nameof(sha256));
        Directory.CreateDirectory(Path.GetDirectoryName(partialPath)!);
        var offset = File.Exists(partialPath) ? new FileInfo(partialPath).Length : 0;
        if (offset > size)
        {
            File.Delete(partialPath);
            offset = 0;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, ProtocolInfo.FilesPrefix + sha256);
        if (offset > 0)
            request.Headers.Range = new RangeHeaderValue(offset, null);
        string actual;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(_limits.RequestTimeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, idle.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransportFailure(e, ct))
        {
            throw new GatewayUnavailableException($"Downloading blob {sha256} failed: {e.Message}", e);
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(partialPath);
                throw new GatewayUnavailableException($"The gateway could not resume blob {sha256} at byte {offset}; starting over.");
            }
            await ThrowIfErrorAsync(response, ct).ConfigureAwait(false);
            var append = offset > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            // The gateway says how long its blob is (Content-Length of a whole answer, the total of a Content-Range):
            // a blob of another length than the command announced is not the right blob, and no retry changes that.
            var served = append ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength;
            if (served is { } length && length != size)
            {
                File.Delete(partialPath);
                throw new Platform.CommandFailedException("size-mismatch", $"The gateway's blob {sha256} is {length} bytes, but the command announced {size}; nothing was installed. Import the package again.");
            }
            // Hash while writing (one pass over the data); a resumed download hashes what it already has first.
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            if (append)
            {
                await using var existing = File.OpenRead(partialPath);
                var chunk = new byte[1 << 16];
                int r;
                while ((r = await existing.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
                    hash.AppendData(chunk, 0, r);
            }
            try
            {
                // Unbuffered: every write is a whole chunk. (Preallocating the blob's size was tried: on a full disk .NET reports
                // it as an IOException without ENOSPC, which would turn disk-full into io-error.)
                var options = new FileStreamOptions
                {
                    Mode = append ? FileMode.Append : FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0,
                    Options = FileOptions.Asynchronous,
                };
                await using (var output = new FileStream(partialPath, options))
                {
                    await using var input = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                    // Two large buffers: while one chunk is written to disk (on the thread pool), the next is received and
                    // hashed. A TLS read returns one record (16 KiB) at most, so each chunk is filled by several reads.
                    var buffers = new[] { new byte[DownloadChunkBytes], new byte[DownloadChunkBytes] };
                    var pending = Task.CompletedTask;
                    var written = append ? offset : 0;
                    try
                    {
                        for (var current = 0; ; current ^= 1)
                        {
                            var buffer = buffers[current];
                            var filled = 0;
                            while (filled < buffer.Length)
                            {
                                idle.CancelAfter(_limits.DownloadIdleTimeout); // a peer sending one byte a minute is cut off
                                int n;
                                try
                                {
                                    n = await input.ReadAsync(buffer.AsMemory(filled), idle.Token).ConfigureAwait(false);
                                }
                                catch (Exception e) when (IsTransportFailure(e, ct))
                                {
                                    // Keep what arrived, so the retry resumes after it (it hashes the partial file again).
                                    await pending.ConfigureAwait(false); // a write that failed (disk full) says so first
                                    await output.WriteAsync(buffer.AsMemory(0, filled), ct).ConfigureAwait(false);
                                    throw new GatewayUnavailableException($"Downloading blob {sha256} stalled or broke at byte {written + filled}: {e.Message}", e);
                                }
                                if (n == 0)
                                    break;
                                filled += n;
                            }
                            if (filled == 0)
                                break;
                            written += filled;
                            if (written > size)
                            {
                                await pending.ConfigureAwait(false);
                                output.Close();
                                File.Delete(partialPath);
                                throw new Platform.CommandFailedException("size-mismatch", $"Blob {sha256} is longer than the {size} bytes the command announced; nothing was installed.");
                            }
                            hash.AppendData(buffer, 0, filled);
                            await pending.ConfigureAwait(false);
                            pending = output.WriteAsync(buffer.AsMemory(0, filled), ct).AsTask();
                            if (filled < buffer.Length)
                                break; // the stream ended inside this chunk
                        }
                    }
                    finally
                    {
                        // Never leave a write running on a file about to be closed (or deleted); its own failure, if any,
                        // surfaces from the await below or from the catch that already awaited it.
                        await pending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    }
                    await pending.ConfigureAwait(false);
                    if (written != size)
                    {
                        throw new GatewayUnavailableException($"Blob {sha256} download ended at {written} of {size} bytes (truncated); resuming.");
                    }
                    output.Flush(flushToDisk: true);
                }
            }
            catch (IOException e) when (Platform.DiskFull.Is(e))
            {
                // Free what the partial download took (also when the buffer's last write failed at close); the command
                // fails with disk-full, which retrying does not fix.
                File.Delete(partialPath);
                throw;
            }
            actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        }

        if (actual != sha256)
        {
            File.Delete(partialPath);
            throw new Platform.CommandFailedException("digest-mismatch", $"Blob digest mismatch: expected sha256 {sha256}, got {actual}; the download was discarded and nothing was installed.");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(finalPath)!);
        File.Move(partialPath, finalPath, overwrite: true);
    }

    private async Task<byte[]> PostAsync(string path, byte[] body, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_limits.RequestTimeout);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(ProtocolInfo.JsonContentType);
        try
        {
            using var response = await _http.PostAsync(path, content, timeout.Token).ConfigureAwait(false);
            await ThrowIfErrorAsync(response, timeout.Token).ConfigureAwait(false);
            return await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransportFailure(e, ct))
        {
            throw new GatewayUnavailableException($"The gateway at {_http.BaseAddress} could not be reached: {e.Message}", e);
        }
    }

    /// <summary>A failure of the connection, not an answer of the gateway: retrying is safe. HttpClient usually wraps
    /// socket errors in <see cref="HttpRequestException"/>, but a connection reset right after it was accepted can
    /// surface as a bare <see cref="SocketException"/> (ENOTCONN from the socket's remote end point); a timeout is an
    /// <see cref="OperationCanceledException"/> that the caller did not ask for.</summary>
    public static bool IsTransportFailure(Exception e, CancellationToken ct) =>
        e is HttpRequestException or IOException or SocketException || (e is OperationCanceledException && !ct.IsCancellationRequested);

    private static async Task ThrowIfErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
            return;
        var status = (int)response.StatusCode;
        string code = "http-" + status, message = $"The gateway answered {status} {response.ReasonPhrase}";
        IReadOnlyList<string>? missing = null;
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            var error = RigJson.Parse(bytes, RigJson.Default.ErrorResponse, "error");
            (code, message, missing) = (error.Code, error.Message, error.Missing);
        }
        catch (ProtocolException)
        {
            // not a Rig error body; keep the status line
        }
        if (status >= 500 || status == 429)
            throw new GatewayUnavailableException($"{message} ({code})");
        throw new GatewayRefusalException(status, code, message) { Missing = missing };
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
