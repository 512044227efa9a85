using Rig.Cli.Commands;

namespace Rig.Cli.Tests;

/// <summary>What <c>rig drift</c> prints of text that came from a device.</summary>
public sealed class DriftOutputTests
{
    [Theory]
    [InlineData("nginx\u001b[2J\u001b]0;owned\u0007", "nginx\uFFFD[[2J\uFFFD]]0;owned\uFFFD")]
    [InlineData("a\r\nfake: no drift", "a\uFFFD\uFFFDfake: no drift")]
    [InlineData("csi\u009b31m", "csi\uFFFD31m")]
    [InlineData("[red]plain[/]", "[[red]]plain[[/]]")]
    public void Device_text_has_control_characters_replaced_and_markup_escaped(string fromDevice, string printed) =>
        Assert.Equal(printed, DriftCommand.Safe(fromDevice));
}
