using Rig.Model.Planning;

namespace Rig.Model.Domain;

/// <summary>The model's secret parameters (<see cref="RigModel.Secrets"/>): where they are set, their values shown
/// masked, and the placeholder that means "keep the stored value" when a masked model is applied again.</summary>
public static class SecretParameters
{
    /// <summary>What a secret value is shown as everywhere (model show and export, plans, diffs, responses). Applied
    /// again as a secret parameter's value, it means "unchanged": the value stored for that parameter is kept.</summary>
    public const string Placeholder = "********";

    /// <summary>The shortest non-empty secret value: shorter ones would mask unrelated text wherever they occur (a
    /// secret "80" would hide every port 80 in plans and outputs).</summary>
    public const int MinLength = 6;

    /// <summary>One layer of parameters: the object kind and name it belongs to (<c>parameters</c>/<c>*</c> for the
    /// global layer, <c>site</c>, <c>role</c>, <c>device</c>) and its values.</summary>
    public readonly record struct Layer(string Kind, string Name, IReadOnlyDictionary<string, string> Parameters)
    {
        /// <summary>The model path of a parameter of this layer (<c>sites/shop/parameters/db_password</c>).</summary>
        public string PathOf(string parameter) => Kind switch
        {
            "parameters" => $"parameters/{parameter}",
            _ => $"{Kind}s/{Name}/parameters/{parameter}",
        };
    }

    /// <summary>Every layer of parameters of <paramref name="model"/>.</summary>
    public static IEnumerable<Layer> Layers(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        yield return new Layer("parameters", "*", model.Parameters);
        foreach (var s in model.Sites)
            yield return new Layer("site", s.Name, s.Parameters);
        foreach (var r in model.Roles)
            yield return new Layer("role", r.Name, r.Parameters);
        foreach (var d in model.Devices)
            yield return new Layer("device", d.Name, d.Parameters);
    }

    /// <summary>Every non-empty secret value set at any layer of <paramref name="model"/>.</summary>
    public static IEnumerable<string> Values(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Secrets.Count == 0)
            return [];
        var names = model.Secrets.ToHashSet(StringComparer.Ordinal);
        return Layers(model).SelectMany(l => l.Parameters.Where(p => names.Contains(p.Key) && p.Value.Length > 0).Select(p => p.Value)).Distinct(StringComparer.Ordinal);
    }

    /// <summary><paramref name="model"/> with every secret parameter's value replaced: <paramref name="map"/> gets the
    /// layer, the parameter's name and value and returns the new value. Layers without secrets are left as they are.</summary>
    public static RigModel Map(RigModel model, Func<Layer, string, string, string> map)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(map);
        if (model.Secrets.Count == 0)
            return model;
        var names = model.Secrets.ToHashSet(StringComparer.Ordinal);
        IReadOnlyDictionary<string, string> Apply(Layer layer)
        {
            if (!layer.Parameters.Keys.Any(names.Contains))
                return layer.Parameters;
            var mapped = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in layer.Parameters)
                mapped[k] = names.Contains(k) ? map(layer, k, v) : v;
            return mapped;
        }
        return model with
        {
            Parameters = Apply(new Layer("parameters", "*", model.Parameters)),
            Sites = [.. model.Sites.Select(s => s with { Parameters = Apply(new Layer("site", s.Name, s.Parameters)) })],
            Roles = [.. model.Roles.Select(r => r with { Parameters = Apply(new Layer("role", r.Name, r.Parameters)) })],
            Devices = [.. model.Devices.Select(d => d with { Parameters = Apply(new Layer("device", d.Name, d.Parameters)) })],
        };
    }

    /// <summary><paramref name="model"/> as it may be shown: every non-empty secret value is <see cref="Placeholder"/>.</summary>
    public static RigModel Masked(RigModel model) => Map(model, (_, _, v) => v.Length == 0 ? v : Placeholder);

    /// <summary>Resolve placeholders in a proposed model: a secret parameter whose value is <see cref="Placeholder"/>
    /// gets the value <paramref name="current"/> has for the same parameter of the same object. One with no stored value
    /// there is an error (<c>secret.placeholder-unknown</c>) naming it.</summary>
    public static (RigModel Model, IReadOnlyList<ModelError> Errors) KeepStored(RigModel proposed, RigModel current)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        ArgumentNullException.ThrowIfNull(current);
        var stored = Layers(current).ToDictionary(l => (l.Kind, l.Name), l => l.Parameters);
        var errors = new List<ModelError>();
        var resolved = Map(proposed, (layer, name, value) =>
        {
            if (value != Placeholder)
                return value;
            if (stored.TryGetValue((layer.Kind, layer.Name), out var there) && there.TryGetValue(name, out var kept) && current.Secrets.Contains(name))
                return kept;
            errors.Add(new ModelError("secret.placeholder-unknown", layer.PathOf(name),
                $"Secret parameter '{name}' at {layer.PathOf(name)} has the placeholder value {Placeholder} (\"keep the stored value\"), but the current model stores no secret value there; write the value itself."));
            return value;
        });
        return (resolved, errors);
    }
}
