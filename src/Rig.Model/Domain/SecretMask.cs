using System.Text.Encodings.Web;
using System.Text.Json;

namespace Rig.Model.Domain;

/// <summary>Hides known secret values in text (plans, diffs, command output, response bodies): each occurrence becomes
/// <see cref="SecretParameters.Placeholder"/>. A value is also found in its JSON-escaped forms, so a JSON document that
/// carries one is masked too. Values shorter than <see cref="SecretParameters.MinLength"/> are not masked (validation
/// refuses them).</summary>
public sealed class SecretMask
{
    private readonly string[] _forms;

    /// <summary>A mask of <paramref name="values"/>.</summary>
    public SecretMask(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var plain = values.Where(v => v.Length >= SecretParameters.MinLength).Distinct(StringComparer.Ordinal).ToList();
        Values = plain;
        _forms = [.. plain
            .SelectMany(v => new[] { v, JsonEncodedText.Encode(v).ToString(), JsonEncodedText.Encode(v, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString() })
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(f => f.Length)
            .ThenBy(f => f, StringComparer.Ordinal)];
    }

    /// <summary>A mask that hides nothing.</summary>
    public static SecretMask None { get; } = new([]);

    /// <summary>The values masked.</summary>
    public IReadOnlyList<string> Values { get; }

    /// <summary>Whether there is anything to mask.</summary>
    public bool IsEmpty => _forms.Length == 0;

    /// <summary>This mask and <paramref name="other"/>'s values.</summary>
    public SecretMask With(IEnumerable<string> other) => new(Values.Concat(other));

    /// <summary>Whether <paramref name="text"/> holds a secret value (in any form).</summary>
    public bool Reveals(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return false;
        foreach (var form in _forms)
        {
            if (text.Contains(form, StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary><paramref name="text"/> with every secret value replaced by the placeholder.</summary>
    public string Mask(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!Reveals(text))
            return text;
        foreach (var form in _forms)
            text = text.Replace(form, SecretParameters.Placeholder, StringComparison.Ordinal);
        return text;
    }

    /// <summary><see cref="Mask(string)"/> that keeps null.</summary>
    public string? MaskOrNull(string? text) => text is null ? null : Mask(text);
}
