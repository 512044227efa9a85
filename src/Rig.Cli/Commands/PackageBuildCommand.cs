using System.ComponentModel;
using Rig.Cli.Operator;
using Rig.Cli.Packages;
using Rig.Protocol;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig package build</c>.</summary>
internal sealed class PackageBuildSettings : CommandSettings
{
    /// <summary>Package directories.</summary>
    [CommandArgument(0, "<DIR>")]
    [Description("Package directories: each holds package.yaml and a files/ tree (docs/PACKAGES.md)")]
    public string[] Directories { get; init; } = [];

    /// <summary>Output file (one directory only).</summary>
    [CommandOption("-o|--output <FILE>")]
    [Description("Archive to write (default NAME_VERSION.rig.tar.gz in the current directory); only with one DIR")]
    public string? Output { get; init; }

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    [Description("Print the result as one JSON object on standard output")]
    public bool Json { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Output is not null && Directories.Length > 1
            ? ValidationResult.Error($"-o names one output file, but {Directories.Length} directories were given; build them one by one, or leave -o out (each becomes NAME_VERSION.rig.tar.gz).")
            : ValidationResult.Success();
}

/// <summary><c>rig package build DIR... [-o FILE]</c>: Rig archives from package directories, offline and reproducibly.</summary>
internal sealed class PackageBuildCommand : Command<PackageBuildSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, PackageBuildSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var limits = RigLimits.Default;
        try
        {
            // Every directory is read and checked before anything is written: one bad manifest, nothing built.
            foreach (var directory in settings.Directories)
                PackageBuilder.Read(directory, limits);
            var built = settings.Directories.Select(d => (Directory: d, Result: PackageBuilder.Build(d, settings.Output, limits))).ToList();
            if (settings.Json)
            {
                Output.JsonLine(new
                {
                    packages = built.Select(b => new
                    {
                        directory = b.Directory,
                        file = b.Result.Path,
                        name = b.Result.Manifest.Name,
                        version = b.Result.Manifest.Version,
                        format = Protocol.Messages.PackageFormats.RigArchive,
                        osFamily = b.Result.Manifest.OsFamily,
                        architecture = b.Result.Manifest.Architecture,
                        sha256 = b.Result.Sha256,
                        size = b.Result.Size,
                        files = b.Result.Manifest.Files.Count,
                        service = b.Result.Manifest.Service?.Name,
                        reboot = b.Result.Manifest.Reboot,
                    }),
                });
                return 0;
            }
            var table = new Table().AddColumns("file", "package", "version", "os/arch", "files", "sha256", "size");
            foreach (var (_, r) in built)
            {
                table.AddRow(Output.Safe(Path.GetRelativePath(Environment.CurrentDirectory, r.Path)), Output.Safe(r.Manifest.Name), Output.Safe(r.Manifest.Version),
                    Output.Safe($"{r.Manifest.OsFamily}/{r.Manifest.Architecture}"), r.Manifest.Files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Output.Short(r.Sha256), Output.Size(r.Size));
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine("Next: [grey]rig package add FILE...[/]");
            return 0;
        }
        catch (PackageBuildException e)
        {
            throw new CliException(e.Message);
        }
    }
}
