using System.Text;
using Microsoft.AspNetCore.Http;
using Rig.Model.Domain;

namespace Rig.Server.Api;

/// <summary>The last guard of the operator API: every text, JSON or NDJSON response body passes through the store's mask
/// of known secret values (<see cref="Store.RigStore.Known"/>), whatever the endpoint. The services already show secrets
/// masked; this catches what a new endpoint or an echoed value would leak. Lines are passed on as they are flushed, so
/// streams (NDJSON logs) still stream.</summary>
internal static class SecretMasking
{
    /// <summary>Install the guard for the rest of the pipeline.</summary>
    public static void Use(Microsoft.AspNetCore.Builder.WebApplication app, Func<SecretMask> mask)
    {
        app.Use(async (context, next) =>
        {
            var current = mask();
            if (current.IsEmpty)
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            var original = context.Response.Body;
            await using var masking = new MaskingStream(original, current, context.Response);
            context.Response.Body = masking;
            context.Response.OnStarting(() =>
            {
                context.Response.ContentLength = null; // masking changes the length
                return Task.CompletedTask;
            });
            try
            {
                await next(context).ConfigureAwait(false);
                await masking.CompleteAsync(context.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                context.Response.Body = original;
            }
        });
    }

    /// <summary>Buffers a response up to its last line break at each flush and writes it on masked.</summary>
    private sealed class MaskingStream(Stream inner, SecretMask mask, HttpResponse response) : Stream
    {
        private readonly MemoryStream _pending = new();

        private bool IsText => response.ContentType is { } type &&
            (type.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || type.Contains("json", StringComparison.OrdinalIgnoreCase));

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            _pending.Write(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _pending.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        /// <summary>A synchronous flush passes nothing on (no blocking on I/O in a request): what is pending goes out at
        /// the next asynchronous flush or at the end of the body, masked either way.</summary>
        public override void Flush()
        {
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            var bytes = _pending.GetBuffer().AsMemory(0, (int)_pending.Length);
            var end = bytes.Span.LastIndexOf((byte)'\n') + 1;
            if (end > 0)
            {
                await PassAsync(bytes[..end], cancellationToken).ConfigureAwait(false);
                var rest = bytes[end..].ToArray();
                _pending.SetLength(0);
                _pending.Write(rest);
            }
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Write what is left (the end of the body).</summary>
        public async Task CompleteAsync(CancellationToken ct)
        {
            if (_pending.Length > 0)
                await PassAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), ct).ConfigureAwait(false);
            _pending.SetLength(0);
        }

        private async Task PassAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
        {
            if (IsText)
            {
                var text = Encoding.UTF8.GetString(bytes.Span);
                if (mask.Reveals(text))
                    bytes = Encoding.UTF8.GetBytes(mask.Mask(text));
            }
            await inner.WriteAsync(bytes, ct).ConfigureAwait(false);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _pending.Dispose();
            base.Dispose(disposing);
        }
    }
}
