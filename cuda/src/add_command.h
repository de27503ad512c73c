// The protocol's `add` command read into a SequenceSpec: every field type- and range-checked on receipt,
// each error a bad_request naming the field and its allowed range (docs/engine-protocol.md, `add`).
// Checks that need the model (ids against its vocabulary, the context length) happen in EngineCore.
#pragma once

#include "engine_core.h"
#include "json.h"

namespace tidepool {

constexpr int kMaxSequencesPerAdd = 16;  // n, as OpenAI's and the API's limit

SequenceSpec parse_add_command(const Json& cmd);

}  // namespace tidepool
