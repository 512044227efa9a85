#!/usr/bin/env bash
# Write the screenshots docs/UI.md and README show: a real `rig demo --ui` driven by Playwright through Debian's
# Chromium (tests/Rig.Ui.Tests, EveryPageTests.Screenshots_of_the_main_pages). Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
RIG_UI_SCREENSHOTS="$(pwd)/docs/ui" dotnet test tests/Rig.Ui.Tests --filter "FullyQualifiedName~EveryPageTests.Screenshots_of_the_main_pages"
ls -l docs/ui/*.jpg
