using Rig.Cli.Commands;

namespace Rig.Cli.Tests;

/// <summary>What <c>rig drift</c> prints of text that came from a device.</summary>
public sealed class DriftOutputTests
{
    [Theory]
    [InlineData("nginx\u001b[2J\u001b]0;owned\u0007", "nginx␛[[2J␛]]0;owned␇")]
    [InlineData("a\r\nfake: no drift", "a␍␊fake: no drift")]
    [InlineData("csi\u009b31m", "csi\\u009B31m")]
    [InlineData("[red]plain[/]", "[[red]]plain[[/]]")]
    public void Device_text_has_control_characters_made_visible_and_markup_escaped(string fromDevice, string printed) =>
        Assert.Equal(printed, DriftCommand.Safe(fromDevice));
}
