namespace Rig.Protocol.Messages;

/// <summary>Agent to gateway, once: a one-time token and a certificate signing request for the device's key.</summary>
public sealed record EnrollRequest
{
    /// <summary>Protocol version the agent speaks.</summary>
    public required int ProtocolVersion { get; init; }

    /// <summary>The one-time token an operator created for this device.</summary>
    public required string Token { get; init; }

    /// <summary>The device the agent is enrolling as; must be the token's device.</summary>
    public required string Device { get; init; }

    /// <summary>PKCS#10 request (PEM) for the agent's own key; the private key never leaves the device.</summary>
    public required string CsrPem { get; init; }

    /// <summary>The agent's version.</summary>
    public string? AgentVersion { get; init; }
}

/// <summary>Gateway to agent: the device's client certificate and the CA to pin.</summary>
public sealed record EnrollResponse
{
    /// <summary>The device the certificate names.</summary>
    public required string Device { get; init; }

    /// <summary>The client certificate (PEM).</summary>
    public required string CertificatePem { get; init; }

    /// <summary>The Rig CA certificate (PEM) the agent pins.</summary>
    public required string CaCertificatePem { get; init; }
}
