#include "base/process_setup.h"

#include "absl/synchronization/mutex.h"

namespace herald {

void SetUpProcess() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace herald
