using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Protocol.Packaging;

namespace Rig.Agent.Components;

/// <summary>Reads <c>rpm -qa --qf <see cref="QueryFormat"/></c> line by line into native packages with their
/// relations: Depends from Requires (one group each; <c>rpmlib(...)</c> and rich dependencies left out), Provides
/// from Provides plus the package's files in bin directories and under <c>/etc</c> (what createrepo's primary
/// metadata lists, so a file dependency such as <c>/usr/bin/python3</c> resolves), Conflicts from Conflicts and
/// Obsoletes. A Requires, Provides or Conflicts entry Rig cannot write canonically makes that list null (unknown);
/// a file path it cannot write is left out (only file provides are dropped singly: nothing else is lost).</summary>
/// <remarks>Every record rpm prints is <c>TYPE US field US field ... RS</c> and a line break, with the ASCII unit
/// (U+001F) and record (U+001E) separators, which no package name, version or path holds; a record whose value held
/// a line break arrives over several lines, is recognised by the missing RS, and counts as unusable (a name with a
/// control character would make the gateway drop the inventory).</remarks>
internal sealed partial class RpmQueryReader
{
    private const char Unit = '\u001f';
    private const char Record = '\u001e';

    /// <summary>The query format: a package record, then one record per Requires, Provides, Conflicts, Obsoletes and
    /// file (rpm's <c>[...]</c> repeats over the arrays; an empty array prints nothing).</summary>
    public static readonly string QueryFormat =
        $"P{Unit}%{{NAME}}{Unit}%{{EPOCHNUM}}:%{{VERSION}}-%{{RELEASE}}{Unit}%{{ARCH}}{Record}\\n" +
        $"[R{Unit}%{{REQUIRENAME}}{Unit}%{{REQUIREFLAGS}}{Unit}%{{REQUIREVERSION}}{Record}\\n]" +
        $"[V{Unit}%{{PROVIDENAME}}{Unit}%{{PROVIDEFLAGS}}{Unit}%{{PROVIDEVERSION}}{Record}\\n]" +
        $"[C{Unit}%{{CONFLICTNAME}}{Unit}%{{CONFLICTFLAGS}}{Unit}%{{CONFLICTVERSION}}{Record}\\n]" +
        $"[O{Unit}%{{OBSOLETENAME}}{Unit}%{{OBSOLETEFLAGS}}{Unit}%{{OBSOLETEVERSION}}{Record}\\n]" +
        $"[F{Unit}%{{FILENAMES}}{Record}\\n]";

    private readonly List<NativePackage> _packages = [];
    private readonly StringBuilder _partial = new();
    private Current? _current;

    /// <summary>One line of rpm's output.</summary>
    public void Add(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (!line.EndsWith(Record))
        {
            if (line.Length > 0 || _partial.Length > 0)
                _partial.Append(line).Append('\n'); // a value with a line break: the record goes on
            return;
        }
        var damaged = _partial.Length > 0;
        var text = damaged ? _partial.Append(line).ToString() : line;
        _partial.Clear();
        Take(text[..^1].Split(Unit), damaged);
    }

    /// <summary>The packages read so far (the last one completed).</summary>
    public IReadOnlyList<NativePackage> Finish()
    {
        if (_partial.Length > 0)
        {
            _current?.ForgetAll(); // output cut inside a record: what the last package lacks is unknown
            _partial.Clear();
        }
        Complete();
        return _packages;
    }

    private void Take(string[] fields, bool damaged)
    {
        var type = fields[0];
        if (type == "P")
        {
            Complete();
            if (damaged || fields is not [_, var name, var version, var arch] || name == "gpg-pubkey" || !Usable(name) || !Usable(version) || !Usable(arch))
            {
                _current = null; // gpg-pubkey: imported signing keys, not packages; an unusable name: nothing to report it by
                return;
            }
            _current = new Current(name, version.StartsWith("0:", StringComparison.Ordinal) ? version[2..] : version, arch);
            return;
        }
        if (_current is not { } current)
            return;
        switch (type)
        {
            case "R":
                Relation(current, Kind.Depends, fields, damaged);
                break;
            case "V":
                Relation(current, Kind.Provides, fields, damaged);
                break;
            case "C" or "O":
                Relation(current, Kind.Conflicts, fields, damaged);
                break;
            case "F":
                if (!damaged && fields is [_, var path] && PrimaryFileRegex().IsMatch(path) && PackageRelations.IsValid(path) && Usable(path))
                    current.Files.Add(path);
                break;
            default:
                current.ForgetAll();
                break;
        }
    }

    private static void Relation(Current current, Kind kind, string[] fields, bool damaged)
    {
        if (current.List(kind) is not { } list)
            return; // already unknown
        if (damaged || fields is not [_, var name, var flagText, var version] || !int.TryParse(flagText, NumberStyles.None, CultureInfo.InvariantCulture, out var flags))
        {
            current.Forget(kind);
            return;
        }
        if (name.StartsWith('(') || (kind == Kind.Depends && name.StartsWith("rpmlib(", StringComparison.Ordinal)))
            return; // rich dependencies ("(a or b)") have no canonical form; rpmlib() are features of rpm itself
        var op = version.Length > 0 ? PackageRelations.RpmOperator(flags) : null;
        var relation = op is null ? name : $"{name} ({op} {version})";
        if (PackageRelations.IsValid(relation) && Usable(relation))
            list.Add(relation);
        else
            current.Forget(kind);
    }

    private static bool Usable(string value) => value.Length > 0 && ContractChecks.ControlCharacterAt(value) < 0;

    private void Complete()
    {
        if (_current is { } done)
            _packages.Add(done.ToPackage());
        _current = null;
    }

    private enum Kind
    {
        Depends,
        Provides,
        Conflicts,
    }

    /// <summary>The package being read; a list that is null is unknown.</summary>
    private sealed class Current(string name, string version, string arch)
    {
        private readonly List<string>?[] _lists = [[], [], []];

        public List<string> Files { get; } = [];

        public List<string>? List(Kind kind) => _lists[(int)kind];

        public void Forget(Kind kind) => _lists[(int)kind] = null;

        public void ForgetAll() => Array.Clear(_lists);

        public NativePackage ToPackage() => new(name, version, arch, PackageFormats.Rpm)
        {
            Depends = Distinct(List(Kind.Depends)),
            Provides = List(Kind.Provides) is { } provides ? Distinct([.. provides, .. Files]) : null,
            Conflicts = Distinct(List(Kind.Conflicts)),
        };

        private static List<string>? Distinct(List<string>? list) => list is null ? null : [.. list.Distinct(StringComparer.Ordinal)];
    }

    // createrepo's "primary" files: what dnf resolves file dependencies against without the full file lists.
    [GeneratedRegex(@"^(.*bin/.*|/etc/.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex PrimaryFileRegex();
}
