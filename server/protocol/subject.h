// Subject syntax rules of the NATS protocol (docs/protocol.md §4).
//
// A subject is one or more non-empty tokens separated by '.'; tokens hold no
// whitespace (space, tab, CR, LF, FF) and no NUL. In a subscription subject a
// token that is exactly "*" matches one token and a last token that is exactly
// ">" matches one or more tokens. '*' or '>' inside a longer token is literal.
// Pure functions; thread-safe.
#ifndef HERALD_SERVER_PROTOCOL_SUBJECT_H_
#define HERALD_SERVER_PROTOCOL_SUBJECT_H_

#include <string_view>

namespace herald {

// Valid as a subscription subject (wildcards allowed).
bool IsValidSubject(std::string_view subject);

// Valid and without wildcard tokens: what a publish subject must be.
bool IsValidLiteralSubject(std::string_view subject);

// True if `subject` contains a "*" or ">" wildcard token.
bool SubjectHasWildcard(std::string_view subject);

// True if the literal `subject` is matched by the (possibly wildcard) `pattern`.
bool SubjectMatches(std::string_view pattern, std::string_view subject);

// Queue group names follow the token rule: non-empty, no whitespace.
bool IsValidQueueName(std::string_view queue);

// Herald's own subjects: `$HERALD.>` (JetStream requests forwarded between
// nodes, the admin bus) and `_HERALD_*` (their answers). Only the server
// publishes and receives them: a client's publish on one is dropped and no
// client is delivered one (docs/security.md), so they cannot carry a
// request past the client's permissions.
inline bool IsHeraldInternalSubject(std::string_view subject) {
  if (subject.empty() || (subject[0] != '$' && subject[0] != '_')) return false;
  return subject.substr(0, 8) == "$HERALD." || subject.substr(0, 8) == "_HERALD_";
}

// A JetStream delivery routed across a route carries the subject its
// receivers see at the end of its reply, `$JS.ACK.<8 tokens>@<subject>`
// (nats-server's encoding): splits such a reply into the ack reply and that
// subject. False for any other reply.
bool SplitJsAckDeliver(std::string_view reply, std::string_view* ack_reply,
                       std::string_view* deliver_as);

}  // namespace herald

#endif  // HERALD_SERVER_PROTOCOL_SUBJECT_H_
