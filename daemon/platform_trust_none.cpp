// Off macOS the system store is OpenSSL's own files (trust_store.cpp reads them).
#include "platform_trust.hpp"

namespace loopgate {

PlatformTrust platform_system_trust() { return {}; }

}  // namespace loopgate
