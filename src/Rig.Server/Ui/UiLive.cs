using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rig.Server.Ui;

/// <summary>The live parts of the UI: a page element with <c>data-live="/ui/live/..."</c> opens a Server-Sent Events
/// stream (static/rig.js, plain EventSource) and applies what arrives to the page by element id:
/// <c>replace</c> swaps an element for server-rendered (encoded) HTML, <c>append</c> adds text to one (command
/// output: text, never markup), <c>end</c> closes the stream. Only what changed is sent, so a view of a thousand
/// devices gets one small event per device that moved, never the page again. Each stream re-reads the session (and so
/// the operator's token and rights) before every wait and ends when they are gone.</summary>
internal sealed class UiLive
{
    private readonly HttpContext _context;
    private readonly UiSessions _sessions;
    private int _id;

    private UiLive(HttpContext context, UiSessions sessions, Services.Caller caller) => (_context, _sessions, Caller) = (context, sessions, caller);

    /// <summary>The operator with their rights as of the last wait: a stream reads with this, so a grant revoked while
    /// it runs stops what it shows at the next poll.</summary>
    public Services.Caller Caller { get; private set; }

    /// <summary>How often a stream looks for news: quick enough that output feels live, light on the database.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    /// <summary>A comment line this often keeps proxies from closing a quiet stream.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>Start an event stream on <paramref name="context"/>.</summary>
    public static async Task<UiLive> StartAsync(HttpContext context, UiSessions sessions)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        return new UiLive(context, sessions, UiEndpoints.CallerOf(context));
    }

    /// <summary>Replace the element <paramref name="id"/> with <paramref name="html"/> (rendered by a component, so encoded).</summary>
    public Task ReplaceAsync(string id, string html) => SendAsync("replace", new JsonObject { ["id"] = id, ["html"] = html });

    /// <summary>Append <paramref name="text"/> to the element <paramref name="id"/> as text.</summary>
    public Task AppendAsync(string id, string text) => SendAsync("append", new JsonObject { ["id"] = id, ["text"] = text });

    /// <summary>Tell the page the stream is over (it stops reconnecting).</summary>
    public Task EndAsync(string why) => SendAsync("end", new JsonObject { ["why"] = why });

    private async Task SendAsync(string kind, JsonObject data)
    {
        var text = new StringBuilder().Append("id: ").Append(++_id).Append("\nevent: ").Append(kind).Append("\ndata: ")
            .Append(data.ToJsonString(JsonOptions)).Append("\n\n").ToString();
        await _context.Response.WriteAsync(text, _context.RequestAborted).ConfigureAwait(false);
        await _context.Response.Body.FlushAsync(_context.RequestAborted).ConfigureAwait(false);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default };

    /// <summary>Wait until the next look for news; false (after telling the page) when the client went away or the
    /// session, token or rights are gone.</summary>
    public async Task<bool> WaitAsync(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Poll, ct).ConfigureAwait(false);
            if (await _sessions.ResumeAsync(_context, ct).ConfigureAwait(false) is not { } resumed)
            {
                await EndAsync("signed-out").ConfigureAwait(false);
                return false;
            }
            Caller = resumed.Caller;
            if (_sinceKeepAlive.Elapsed > KeepAlive)
            {
                await _context.Response.WriteAsync(": keep-alive\n\n", ct).ConfigureAwait(false);
                await _context.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                _sinceKeepAlive.Restart();
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private readonly System.Diagnostics.Stopwatch _sinceKeepAlive = System.Diagnostics.Stopwatch.StartNew();

    /// <summary>Render a component to an HTML string (for <see cref="ReplaceAsync"/>): the same encoding as a page.</summary>
    public static async Task<string> RenderAsync<TComponent>(HttpContext context, IDictionary<string, object?> parameters) where TComponent : IComponent
    {
        await using var renderer = new HtmlRenderer(context.RequestServices, context.RequestServices.GetRequiredService<ILoggerFactory>());
        var output = await renderer.Dispatcher.InvokeAsync(() => renderer.RenderComponentAsync<TComponent>(ParameterView.FromDictionary(parameters))).ConfigureAwait(false);
        return UiEndpoints.VisibleControls(await renderer.Dispatcher.InvokeAsync(output.ToHtmlString).ConfigureAwait(false));
    }
}
