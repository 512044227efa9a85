using System.Text.Json.Serialization;

namespace Rig.Model.Domain;

/// <summary>One entry of a role's or bundle's ordered item list.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(PackageItem), "package")]
[JsonDerivedType(typeof(BundleItem), "bundle")]
[JsonDerivedType(typeof(FileItem), "file")]
[JsonDerivedType(typeof(ServiceItem), "service")]
[JsonDerivedType(typeof(RebootItem), "reboot")]
public abstract record Item;

/// <summary>Install a package from the catalog.</summary>
public sealed record PackageItem(string Name, string Version) : Item
{
    /// <summary>The catalog key.</summary>
    public string Key => PackageInfo.PackageKey(Name, Version);
}

/// <summary>Include a bundle's items here.</summary>
public sealed record BundleItem(string Name) : Item;

/// <summary>Write a configuration file rendered from a template.</summary>
public sealed record FileItem(string Path, string Template, string Mode = "0644", string Owner = "root", string Group = "root") : Item;

/// <summary>Keep a service in a state; it is restarted when anything in its bundle changes.</summary>
public sealed record ServiceItem(string Name, bool Running = true, bool Enabled = true) : Item;

/// <summary>Reboot here when anything before it in the role changed.</summary>
public sealed record RebootItem(string Reason = "the role asks for a reboot") : Item;
