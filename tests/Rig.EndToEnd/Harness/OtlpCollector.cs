using System.Net;
using System.Text;

namespace Rig.EndToEnd.Harness;

/// <summary>A tiny OTLP/HTTP receiver on loopback: keeps every POST's path, content type and body, and answers 200 with
/// an empty protobuf message (an ExportTraceServiceResponse with no partial success), as a collector does.</summary>
internal sealed class OtlpCollector : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<(string Path, string? ContentType, byte[] Body)> _requests = [];
    private readonly Task _loop;

    /// <summary>Listen on a free loopback port.</summary>
    public OtlpCollector()
    {
        var port = LoopbackPorts.Free(1)[0];
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The base URL to give as <c>--otlp-endpoint</c>.</summary>
    public string Url { get; }

    /// <summary>Requests received.</summary>
    public int Requests
    {
        get
        {
            lock (_requests)
                return _requests.Count;
        }
    }

    /// <summary>Paths posted to.</summary>
    public IReadOnlyList<string> Paths
    {
        get
        {
            lock (_requests)
                return [.. _requests.Select(r => r.Path)];
        }
    }

    /// <summary>Content types posted.</summary>
    public IReadOnlyList<string?> ContentTypes
    {
        get
        {
            lock (_requests)
                return [.. _requests.Select(r => r.ContentType)];
        }
    }

    /// <summary>True when some body holds <paramref name="text"/> (protobuf keeps strings as UTF-8 bytes).</summary>
    public bool Contains(string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        lock (_requests)
            return _requests.Any(r => r.Body.AsSpan().IndexOf(needle) >= 0);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            lock (_requests)
                _requests.Add((context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray()));
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.ContentLength64 = 0;
            context.Response.Close();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
