using Rig.Model.Planning;

namespace Rig.Server.Services;

/// <summary>Stored scripts: list, read, save, delete, run on devices.</summary>
internal sealed class ScriptService(Gateway.Gateway gateway, OperatorAccess access)
{
    /// <summary>Every stored script.</summary>
    public async Task<IReadOnlyList<ScriptView>> ListAsync(Caller caller, CancellationToken ct)
    {
        access.Allow(caller, "script.list");
        return access.Visible(caller, (await gateway.Store.ListScriptsAsync(ct).ConfigureAwait(false)).Select(s => s.ToView()), _ => null);
    }

    /// <summary>One stored script, or null.</summary>
    public async Task<ScriptView?> GetAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "script.read");
        return (await gateway.Store.GetScriptAsync(name, ct).ConfigureAwait(false))?.ToView();
    }

    /// <summary>Create or replace a stored script: the saved script, or the script's errors (nothing saved).</summary>
    public async Task<(ScriptView? Script, IReadOnlyList<ModelError> Errors)> SaveAsync(Caller caller, string name, ScriptRequest request, CancellationToken ct)
    {
        access.Allow(caller, "script.add");
        var errors = await gateway.SaveScriptAsync(name, request.Description ?? "", request.Commands ?? [], caller.Name, ct).ConfigureAwait(false);
        return errors.Count > 0 ? (null, errors) : (await GetAsync(caller, name, ct).ConfigureAwait(false), []);
    }

    /// <summary>Delete a stored script; false when there is none of that name.</summary>
    public async Task<bool> DeleteAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "script.delete");
        return await gateway.Store.DeleteScriptAsync(name, ct).ConfigureAwait(false);
    }

    /// <summary>Run a stored script on a device or selector: one queue per device.</summary>
    public async Task<LifecycleResponse> RunAsync(Caller caller, string name, ScriptRunRequest request, CancellationToken ct)
    {
        access.Allow(caller, "script.run");
        IReadOnlyList<string> Authorize(IReadOnlyList<string> selected)
        {
            var visible = selected.Where(d => OperatorAccess.MaySee(caller, d)).ToList();
            access.AllowDevices(caller, Security.Verb.RunScript, visible);
            return visible;
        }
        return (await gateway.RunScriptAsync(name, request.Devices, caller.Name, Authorize, ct).ConfigureAwait(false)).ToView();
    }
}
