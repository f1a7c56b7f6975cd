// ConnectionTable: what the HTTP server knows about each open connection (its peer address and
// what it is doing since when), and which one to shed when a new connection arrives at the cap.
//
// The shedding policy (docs/operations.md, "Connections"), in order:
//  1. a connection that is closing (answered, draining what the peer still sends), oldest first;
//  2. a keep-alive connection idle between requests, idle longest first;
//  3. a connection still sending its request header, the one that started longest ago first
//     (a slowloris, or a client that connected and never spoke);
//  4. a connection still sending its request body, the one that started longest ago first (a
//     slow POST: without this, bodies trickled at a byte a second would hold every slot, and a
//     web action needs no key to be sent one);
//  never a connection that is busy with a request (running it, answering it).
// Idle connections go before slow ones because an idle client loses nothing it sent (it
// reconnects, as browsers and HTTP libraries do when a pooled connection was closed), while a
// slow one may be a real client on a bad link. This is also what nginx does when it runs out of
// connections (it reuses keep-alive connections first).
//
// Contract: a plain value, no I/O, no clock of its own (callers pass `now`); not thread-safe
// (the HTTP server uses it on its event-loop thread only). Every request moves its connection
// through a few states, so a move costs no allocation, and it is O(1) while the times passed do
// not decrease (a steady clock's now); an earlier time costs a walk back to its place.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace hotrod {

enum class ConnectionState {
  kHeader,   // accepted, or the first byte of a request arrived: the header is on its way
  kIdle,     // between requests (keep-alive)
  kBody,     // the header is in; the body is on its way
  kBusy,     // running the request, or writing the response
  kClosing,  // answered and closing (or refused at accept); only draining what the peer sends
};

class ConnectionTable {
 public:
  using Id = uint64_t;
  using Clock = std::chrono::steady_clock;

  // A new connection from `address` (any string that identifies the peer's host), in `state`
  // since `now`.
  Id Add(const std::string& address, ConnectionState state, Clock::time_point now);
  // Changes a connection's state (and restarts its clock; kBusy has none, being never shed, so
  // any time will do). Unknown ids (removed, shed) are ignored.
  void Set(Id id, ConnectionState state, Clock::time_point now);
  // Forgets a connection. Unknown ids are ignored.
  void Remove(Id id);

  // The connection to shed to make room (the policy above), or nullopt when all are busy.
  std::optional<Id> ChooseVictim() const;

  size_t size() const { return entries_.size(); }
  bool contains(Id id) const { return entries_.contains(id); }
  std::optional<ConnectionState> state(Id id) const;
  // Connections from `address` that are not closing (what the per-address cap counts).
  size_t OpenFrom(const std::string& address) const;

 private:
  // The connections in one state, oldest first; a connection's node moves between queues by
  // splicing (no allocation).
  using Queue = std::list<Id>;
  struct Entry {
    std::string address;
    ConnectionState state;
    Clock::time_point since;
    Queue::iterator node;  // in queues_[state]
  };
  Queue& QueueFor(ConnectionState state) { return queues_[static_cast<size_t>(state)]; }
  // Where a connection in `state` since `since` goes in its queue: after every older one.
  Queue::iterator PlaceFor(ConnectionState state, Clock::time_point since);
  void CountAddress(const Entry& entry, int delta);

  Id next_id_ = 1;
  std::unordered_map<Id, Entry> entries_;
  std::array<Queue, 5> queues_;  // by ConnectionState; kBusy's is never shed
  std::map<std::string, size_t> open_from_;  // address -> connections not closing
};

}  // namespace hotrod
