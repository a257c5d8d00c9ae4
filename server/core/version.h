// Version strings.
//
// kNatsCompatVersion is what INFO advertises to clients: they switch protocol
// features on it (docs/protocol.md §2), so it names the nats-server release
// whose client-visible features Herald implements. Herald's own version
// appears in /varz ("herald_version") and `herald --version`.
#ifndef HERALD_SERVER_CORE_VERSION_H_
#define HERALD_SERVER_CORE_VERSION_H_

namespace herald {

inline constexpr char kHeraldVersion[] = "0.1.0";
inline constexpr char kNatsCompatVersion[] = "2.9.10";

}  // namespace herald

#endif  // HERALD_SERVER_CORE_VERSION_H_
