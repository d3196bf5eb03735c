// Repositories: typed reads and writes over the schema. They never open
// transactions themselves; the caller groups writes (state + outbox + journal)
// in one WriteTransaction.
// One header and one source per repository; this header gathers them.
#pragma once

#include "store/case_repo.hpp"
#include "store/chat_thread_repo.hpp"
#include "store/consent_repo.hpp"
#include "store/inbound_repo.hpp"
#include "store/inbound_seen.hpp"
#include "store/journal.hpp"
#include "store/kv.hpp"
#include "store/learner_repo.hpp"
#include "store/outbox_repo.hpp"
#include "store/plan_json.hpp"
#include "store/relaunch_repo.hpp"
#include "store/task_repo.hpp"
#include "store/timer_repo.hpp"
