using System.Globalization;
using System.Text;

namespace Rig.Server.Packages;

/// <summary>
/// Reads the metadata of native packages (.deb, .rpm) from their bytes, without installing them and without any
/// external tool. Every size read from the file is checked against a bound before anything is allocated
/// (CHECKLIST 2), and the name and version are checked against <see cref="Rig.Protocol.Names"/> (CHECKLIST 14).
/// Problems are reported as <see cref="PackageRejectedException"/> with code <c>bad-format</c>, <c>bad-name</c>
/// or <c>bad-version</c>. Debian parsing is in <c>NativePackageReader.Deb.cs</c>, RPM in <c>NativePackageReader.Rpm.cs</c>.
/// </summary>
internal static partial class NativePackageReader
{
    /// <summary>The format of a file from its first bytes: <c>deb</c> (ar archive whose first member is
    /// <c>debian-binary</c>), <c>rpm</c> (RPM lead), <c>rig</c> (gzip, the Rig archive format) or null.
    /// Give at least the first 21 bytes; fewer may give null.</summary>
    public static string? DetectFormat(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith(ArMagic) && head.Length >= ArMagic.Length + DebianBinaryMember.Length
            && head.Slice(ArMagic.Length, DebianBinaryMember.Length).SequenceEqual(DebianBinaryMember))
            return "deb";
        if (head.StartsWith(RpmLeadMagic))
            return "rpm";
        if (head.StartsWith(GzipMagic))
            return "rig";
        return null;
    }

    private static ReadOnlySpan<byte> GzipMagic => [0x1F, 0x8B];

    /// <summary>Bytes read at once when skipping over a part of a non-seekable stream.</summary>
    private const int SkipChunkBytes = 81_920;

    /// <summary>Buffers for sizes declared by the file start at most this big and grow as bytes really arrive,
    /// so a file that declares 60 MiB and then ends costs what it sent, not what it claimed.</summary>
    private const int InitialReadChunkBytes = 1024 * 1024;

    /// <summary>Longest offending value quoted in an error message; the rest is cut so messages stay readable.</summary>
    private const int MaxQuotedChars = 80;

    private static readonly UTF8Encoding LenientUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private static PackageRejectedException BadFormat(string message) => new("bad-format", message);

    /// <summary>A value quoted for an error message: control characters escaped, long values cut.</summary>
    private static string Quote(string? value)
    {
        if (value is null)
            return "(missing)";
        var sb = new StringBuilder("'");
        foreach (var ch in value.Length > MaxQuotedChars ? value[..MaxQuotedChars] : value)
        {
            if (char.IsControl(ch))
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:x4}");
            else
                sb.Append(ch);
        }
        sb.Append('\'');
        if (value.Length > MaxQuotedChars)
            sb.Append(CultureInfo.InvariantCulture, $" (cut, {value.Length} characters in all)");
        return sb.ToString();
    }

    /// <summary>True when the text holds a control character other than tab: such text would reach terminals
    /// and logs when the catalog is displayed.</summary>
    private static bool HasControlCharacter(string value)
    {
        foreach (var ch in value)
        {
            if (ch != '\t' && char.IsControl(ch))
                return true;
        }
        return false;
    }

    /// <summary>Reads a package file front to back, keeping the offset for messages. Works on non-seekable
    /// streams (an upload body); seeks over skipped parts when the stream can.</summary>
    private sealed class PackageStream(Stream stream, string fileKind)
    {
        /// <summary>Bytes consumed from the stream so far.</summary>
        public long Offset { get; private set; }

        public Stream Inner => stream;

        /// <summary>Exactly <paramref name="length"/> bytes, or <c>bad-format</c> naming <paramref name="what"/>
        /// if the file ends first. The caller has already checked <paramref name="length"/> against its bound.</summary>
        public byte[] ReadExactly(int length, string what) => Read(length, what, endAllowed: false)!;

        /// <summary>Like <see cref="ReadExactly"/>, but null when the file ends cleanly before the first byte.</summary>
        public byte[]? ReadExactlyOrEnd(int length, string what) => Read(length, what, endAllowed: true);

        private byte[]? Read(int length, string what, bool endAllowed)
        {
            var start = Offset;
            var buffer = new byte[Math.Min(length, InitialReadChunkBytes)];
            var filled = 0;
            while (filled < length)
            {
                if (filled == buffer.Length)
                    Array.Resize(ref buffer, (int)Math.Min(length, (long)buffer.Length * 2));
                var n = stream.Read(buffer, filled, buffer.Length - filled);
                if (n == 0 && filled == 0 && endAllowed)
                    return null;
                if (n == 0)
                    throw Truncated(what, start, length, filled);
                filled += n;
                Offset += n;
            }
            return buffer;
        }

        /// <summary>Pass over <paramref name="length"/> bytes without keeping them.</summary>
        public void Skip(long length, string what)
        {
            var start = Offset;
            if (stream.CanSeek)
            {
                var available = stream.Length - stream.Position;
                if (available < length)
                    throw Truncated(what, start, length, Math.Max(0, available));
                stream.Seek(length, SeekOrigin.Current);
                Offset += length;
                return;
            }
            var scratch = new byte[(int)Math.Min(Math.Max(length, 1), SkipChunkBytes)];
            long done = 0;
            while (done < length)
            {
                var n = stream.Read(scratch, 0, (int)Math.Min(scratch.Length, length - done));
                if (n == 0)
                    throw Truncated(what, start, length, done);
                done += n;
                Offset += n;
            }
        }

        /// <summary>Bytes left in the stream, when the stream can tell.</summary>
        public long? Remaining => stream.CanSeek ? stream.Length - stream.Position : null;

        public PackageRejectedException Truncated(string what, long start, long expected, long got) => BadFormat(
            $"The .{fileKind} file is truncated: {what} at offset {start} should be {expected} bytes long, but the file ends after {got} of them " +
            $"(offset {start + got}). Upload the complete file; if it was downloaded, download it again and compare its checksum.");
    }

    /// <summary>A read-only stream over another that refuses to yield more than <c>max</c> bytes: a compression
    /// bomb is stopped when the bound is crossed instead of filling memory.</summary>
    private sealed class BoundedReadStream(Stream inner, long max, Func<PackageRejectedException> onExceeded) : Stream
    {
        private long _total;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _total; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _total += n;
            if (_total > max)
                throw onExceeded();
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer, offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
