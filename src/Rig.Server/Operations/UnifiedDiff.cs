using System.Text;
using DiffPlex;

namespace Rig.Server.Operations;

/// <summary>Unified diffs (<c>diff -u</c> format, 3 lines of context) of texts, for plans and model diffs.</summary>
internal static class UnifiedDiff
{
    private const int Context = 3;

    /// <summary>The unified diff of <paramref name="before"/> and <paramref name="after"/>; empty when equal.</summary>
    public static string Create(string before, string after, string beforeName, string afterName)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before == after)
            return "";
        var result = Differ.Instance.CreateDiffs(before, after, ignoreWhiteSpace: false, ignoreCase: false, LineChunker.Instance);
        var a = result.PiecesOld;
        var b = result.PiecesNew;
        var text = new StringBuilder();
        text.Append("--- ").Append(beforeName).Append('\n');
        text.Append("+++ ").Append(afterName).Append('\n');

        // Group blocks whose context overlaps into hunks.
        var blocks = result.DiffBlocks;
        var i = 0;
        while (i < blocks.Count)
        {
            var first = blocks[i];
            var last = first;
            var j = i + 1;
            while (j < blocks.Count && blocks[j].DeleteStartA - (last.DeleteStartA + last.DeleteCountA) <= 2 * Context)
                last = blocks[j++];
            var startA = Math.Max(0, first.DeleteStartA - Context);
            var startB = Math.Max(0, first.InsertStartB - Context);
            var endA = Math.Min(a.Count, last.DeleteStartA + last.DeleteCountA + Context);
            var endB = Math.Min(b.Count, last.InsertStartB + last.InsertCountB + Context);
            text.Append($"@@ -{Range(startA, endA - startA)} +{Range(startB, endB - startB)} @@\n");
            var posA = startA;
            for (var k = i; k < j; k++)
            {
                var block = blocks[k];
                for (; posA < block.DeleteStartA; posA++)
                    text.Append(' ').Append(a[posA]).Append('\n');
                for (var d = 0; d < block.DeleteCountA; d++)
                    text.Append('-').Append(a[block.DeleteStartA + d]).Append('\n');
                for (var n = 0; n < block.InsertCountB; n++)
                    text.Append('+').Append(b[block.InsertStartB + n]).Append('\n');
                posA = block.DeleteStartA + block.DeleteCountA;
            }
            for (; posA < endA; posA++)
                text.Append(' ').Append(a[posA]).Append('\n');
            i = j;
        }
        return text.ToString();
    }

    /// <summary>Lines of a text: a final newline ends the last line (it does not start an empty one).</summary>
    private sealed class LineChunker : IChunker
    {
        public static readonly LineChunker Instance = new();

        public IReadOnlyList<string> Chunk(string str) => str.Length == 0 ? [] : (str.EndsWith('\n') ? str[..^1] : str).Split('\n');
    }

    private static string Range(int start, int count) => count == 0 ? $"{start},0" : count == 1 ? $"{start + 1}" : $"{start + 1},{count}";

}
