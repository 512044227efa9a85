using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Rig.Server.Store;

/// <summary>An audit entry to append; its <c>seq</c>, time and hashes are given when it is linked into the chain.</summary>
/// <param name="Operator">Who did it; null for what an agent or the gateway itself did (a command result).</param>
/// <param name="Action">What: <c>model.apply</c>, <c>rollout.start</c>, <c>rollout.wave</c>, <c>command.result</c>, ...</param>
/// <param name="Target">On what (<c>name=web-1</c>, a rollout id, a command id).</param>
/// <param name="Device">The device it is about, if one.</param>
/// <param name="Outcome">How it ended: <c>ok</c>, <c>refused</c>, <c>error</c>, or a command's state.</param>
/// <param name="Detail">A small JSON object with the rest (never a command's output, never a secret).</param>
/// <param name="Customer">The customer it concerns (filled by the trust hierarchy; null until then).</param>
internal sealed record AuditEntry(string? Operator, string Action, string Target, string? Device, string Outcome, string? Detail, string? Customer = null);

/// <summary>An entry of the audit log as stored.</summary>
internal sealed record AuditRow(long Seq, long At, string? Operator, string Action, string Target, string? Device, string? Customer, string Outcome, string? Detail, string PrevHash, string Hash);

/// <summary>The chain's newest entry (seq 0 and <see cref="AuditChain.Genesis"/> before the first).</summary>
internal sealed record AuditHead(long Seq, string Hash);

/// <summary>What a verification found: entries checked, the head, and the first broken entry (null: the chain is whole).</summary>
internal sealed record AuditVerification(long Checked, AuditHead Head, AuditBreak? Break);

/// <summary>The first entry where the chain is broken and why.</summary>
/// <param name="Seq">The entry's seq (for entries removed at the end: the head's seq).</param>
/// <param name="Action">Its action (null when the entry itself is missing).</param>
/// <param name="Problem"><c>altered</c>, <c>removed</c>, <c>reordered</c> or <c>truncated</c>.</param>
/// <param name="Message">What is wrong, for a human.</param>
internal sealed record AuditBreak(long Seq, string? Action, string Problem, string Message);

/// <summary>The audit log's hash chain: how an entry's hash is computed, and how a chain read back is checked. Pure.
/// The hash is SHA-256 over a canonical, unambiguous encoding of every stored field but the hash itself: a version tag,
/// then each field in a fixed order, numbers as 8 bytes big-endian, texts as a presence byte, a 4-byte big-endian length
/// and their UTF-8 bytes (so <c>"ab","c"</c> and <c>"a","bc"</c>, or null and empty, never encode alike).</summary>
internal static class AuditChain
{
    /// <summary>The first entry's <c>prev_hash</c>.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    private static readonly byte[] Version = Encoding.ASCII.GetBytes("rig-audit-v1");

    /// <summary>Link <paramref name="entries"/> after <paramref name="head"/>: consecutive seqs, each with the previous hash.</summary>
    public static IReadOnlyList<AuditRow> Link(AuditHead head, IEnumerable<AuditEntry> entries, long at)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(entries);
        var rows = new List<AuditRow>();
        var (seq, prev) = (head.Seq, head.Hash);
        foreach (var e in entries)
        {
            var row = Link(new AuditHead(seq, prev), e, at);
            rows.Add(row);
            (seq, prev) = (row.Seq, row.Hash);
        }
        return rows;
    }

    /// <summary>Link one entry after <paramref name="head"/>.</summary>
    public static AuditRow Link(AuditHead head, AuditEntry e, long at)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(e);
        var row = new AuditRow(head.Seq + 1, at, e.Operator, e.Action, e.Target, e.Device, e.Customer, e.Outcome, e.Detail, head.Hash, "");
        return row with { Hash = Hash(row) };
    }

    /// <summary>The hash an entry must have (its own <see cref="AuditRow.Hash"/> is not part of it).</summary>
    public static string Hash(AuditRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Version);
        Number(hash, row.Seq);
        Number(hash, row.At);
        foreach (var text in new[] { row.Operator, row.Action, row.Target, row.Device, row.Customer, row.Outcome, row.Detail, row.PrevHash })
            Text(hash, text);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Check a chain read in seq order from its start, given the head the store keeps: the first entry whose
    /// hash does not match its fields (altered), a seq that skips (removed), a <c>prev_hash</c> that is not the previous
    /// entry's hash (reordered, or removed and renumbered), or an end short of the head (removed at the end).</summary>
    public sealed class Verifier(AuditHead? storedHead)
    {
        private long _expected = 1;
        private string _prev = Genesis;
        private long _checked;

        /// <summary>The first break found so far.</summary>
        public AuditBreak? Break { get; private set; }

        /// <summary>Check the next entry (ignored once a break is found).</summary>
        public void Add(AuditRow row)
        {
            ArgumentNullException.ThrowIfNull(row);
            if (Break is not null)
                return;
            _checked++;
            var problems = new List<string>();
            string? kind = null;
            if (row.Seq != _expected)
            {
                kind = "removed";
                problems.Add(row.Seq > _expected
                    ? $"seq jumps from {_expected - 1} to {row.Seq}: {(row.Seq - _expected == 1 ? $"entry {_expected} was" : $"entries {_expected} to {row.Seq - 1} were")} removed"
                    : $"seq {row.Seq} comes after {_expected - 1}: entries were renumbered");
            }
            if (row.PrevHash != _prev)
            {
                kind ??= "reordered";
                problems.Add($"its prev_hash {Short(row.PrevHash)} is not the hash of the entry before it ({Short(_prev)}): an entry before it was removed, altered or moved");
            }
            if (Hash(row) != row.Hash)
            {
                kind = kind is null ? "altered" : kind;
                problems.Add($"its hash {Short(row.Hash)} does not match its contents: the entry was altered{(row.Seq != _expected || row.PrevHash != _prev ? " or moved" : "")}");
            }
            if (problems.Count > 0)
                Break = new AuditBreak(row.Seq, row.Action, kind!, $"entry {row.Seq} ({row.Action}): {string.Join("; ", problems)}");
            _expected = row.Seq + 1;
            _prev = row.Hash;
        }

        /// <summary>The result once every entry was added: also compares the chain's end with the stored head.</summary>
        public AuditVerification Finish()
        {
            var head = new AuditHead(_expected - 1, _prev);
            if (Break is null && storedHead is not null && (storedHead.Seq != head.Seq || storedHead.Hash != head.Hash))
            {
                Break = storedHead.Seq > head.Seq
                    ? new AuditBreak(storedHead.Seq, null, "removed", $"the log ends at entry {head.Seq} but the chain's head records entry {storedHead.Seq} ({Short(storedHead.Hash)}): entries {head.Seq + 1} to {storedHead.Seq} were removed")
                    : new AuditBreak(head.Seq, null, "altered", $"the log ends at entry {head.Seq} ({Short(head.Hash)}) but the chain's head records entry {storedHead.Seq} ({Short(storedHead.Hash)}): the end of the log was rewritten");
            }
            return new AuditVerification(_checked, head, Break);
        }
    }

    private static string Short(string hash) => hash.Length > 16 ? hash[..16] : hash;

    private static void Number(IncrementalHash hash, long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        hash.AppendData(bytes);
    }

    private static void Text(IncrementalHash hash, string? value)
    {
        Span<byte> header = stackalloc byte[5];
        if (value is null)
        {
            header[0] = 0;
            hash.AppendData(header[..1]);
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(value);
        header[0] = 1;
        BinaryPrimitives.WriteInt32BigEndian(header[1..], bytes.Length);
        hash.AppendData(header);
        hash.AppendData(bytes);
    }
}
