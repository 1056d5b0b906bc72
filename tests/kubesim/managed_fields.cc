#include "managed_fields.h"

#include <nlohmann/json.hpp>

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;
using Path = std::vector<std::string>;

// fieldsV1 of a value: maps become {"f:key": ...}, everything else a leaf {}.
json FieldSet(const json& v) {
  if (!v.is_object() || v.empty()) return json::object();
  json out = json::object();
  for (const auto& [k, sub] : v.items()) out["f:" + k] = FieldSet(sub);
  return out;
}

bool Tracked(const std::string& key, const std::string& subresource) {
  if (key == "apiVersion" || key == "kind") return false;
  return subresource == "status" ? key == "status" : key != "status";
}

// The fields of an object a manager can own (metadata: labels, annotations, finalizers,
// ownerReferences only).
json ObjectFields(const json& obj, const std::string& subresource) {
  json out = json::object();
  if (!obj.is_object()) return out;
  for (const auto& [k, v] : obj.items()) {
    if (!Tracked(k, subresource)) continue;
    if (k == "metadata") {
      json m = json::object();
      for (const char* mk : {"labels", "annotations", "finalizers", "ownerReferences"}) {
        if (v.is_object() && v.contains(mk)) m[std::string("f:") + mk] = FieldSet(v[mk]);
      }
      if (!m.empty()) out["f:metadata"] = m;
      continue;
    }
    out["f:" + k] = FieldSet(v);
  }
  return out;
}

// Fields of `now` whose value differs from `old` (added or changed), restricted like
// ObjectFields.
json ChangedFields(const json& old, const json& now) {
  json out = json::object();
  if (!now.is_object()) return out;
  for (const auto& [k, v] : now.items()) {
    auto it = old.is_object() ? old.find(k) : old.end();
    if (old.is_object() && it != old.end() && *it == v) continue;
    if (v.is_object() && !v.empty() && old.is_object() && it != old.end() && it->is_object()) {
      json sub = ChangedFields(*it, v);
      if (!sub.empty()) out["f:" + k] = sub;
    } else {
      out["f:" + k] = FieldSet(v);
    }
  }
  return out;
}

void Leaves(const json& set, Path* prefix, std::vector<Path>* out) {
  bool any = false;
  for (const auto& [k, sub] : set.items()) {
    if (k.rfind("f:", 0) != 0) continue;
    any = true;
    prefix->push_back(k.substr(2));
    Leaves(sub, prefix, out);
    prefix->pop_back();
  }
  if (!any && !prefix->empty()) out->push_back(*prefix);
}

std::vector<Path> Leaves(const json& set) {
  std::vector<Path> out;
  Path prefix;
  Leaves(set, &prefix, &out);
  return out;
}

bool Contains(const json& set, const Path& p) {
  const json* cur = &set;
  for (const auto& k : p) {
    auto it = cur->find("f:" + k);
    if (it == cur->end()) return false;
    cur = &*it;
  }
  return true;
}

// True when some prefix of p is a leaf of set or p itself is in the set (one owns a subtree
// by owning its root leaf).
bool Owns(const json& set, const Path& p) {
  const json* cur = &set;
  for (const auto& k : p) {
    auto it = cur->find("f:" + k);
    if (it == cur->end()) return false;
    cur = &*it;
    if (cur->empty()) return true;
  }
  return true;
}

void Add(json* set, const Path& p) {
  json* cur = set;
  for (const auto& k : p) cur = &(*cur)["f:" + k];
  if (cur->is_null()) *cur = json::object();
}

void Remove(json* set, const Path& p, size_t i = 0) {
  if (i >= p.size()) return;
  auto it = set->find("f:" + p[i]);
  if (it == set->end()) return;
  if (i + 1 == p.size()) {
    set->erase(it);
    return;
  }
  Remove(&*it, p, i + 1);
  if (it->empty()) set->erase(it);
}

json Union(json a, const json& b) {
  for (const auto& p : Leaves(b)) Add(&a, p);
  return a;
}

json Subtract(json a, const json& b) {
  for (const auto& p : Leaves(b)) Remove(&a, p);
  return a;
}

const json* ValueAt(const json& obj, const Path& p) {
  const json* cur = &obj;
  for (const auto& k : p) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

void EraseAt(json* obj, const Path& p, size_t i = 0) {
  if (i >= p.size() || !obj->is_object()) return;
  auto it = obj->find(p[i]);
  if (it == obj->end()) return;
  if (i + 1 == p.size()) {
    obj->erase(it);
    return;
  }
  EraseAt(&*it, p, i + 1);
}

std::string Dotted(const Path& p) {
  std::string s;
  for (const auto& k : p) s += "." + k;
  return s;
}

}  // namespace

std::vector<FieldConflict> UpdateManagedFields(json* object, const json* old, const FieldManagerWrite& w) {
  json& meta = (*object)["metadata"];
  json entries = json::array();
  if (old && old->contains("metadata") && (*old)["metadata"].contains("managedFields") &&
      (*old)["metadata"]["managedFields"].is_array()) {
    entries = (*old)["metadata"]["managedFields"];
  } else if (!old && meta.contains("managedFields") && meta["managedFields"].is_array()) {
    entries = meta["managedFields"];
  }
  const std::string sub = w.subresource;
  json mine;  // the fields this write gives the manager
  if (w.operation == "Apply") {
    mine = ObjectFields(*w.applied, sub);
    std::vector<FieldConflict> conflicts;
    json taken = json::object();
    for (const auto& e : entries) {
      if (e.value("manager", "") == w.manager) continue;
      const json theirs = e.value("fieldsV1", json::object());
      for (const auto& p : Leaves(mine)) {
        if (!Owns(theirs, p)) continue;
        const json* live = old ? ValueAt(*old, p) : nullptr;
        const json* want = ValueAt(*w.applied, p);
        if (live && want && *live == *want) continue;  // same value: shared ownership
        conflicts.push_back({e.value("manager", ""), e.value("apiVersion", ""), Dotted(p)});
        Add(&taken, p);
      }
    }
    if (!conflicts.empty() && !w.force) return conflicts;
    // Fields this manager applied before and no longer applies go, unless someone else owns them.
    json before = json::object();
    for (const auto& e : entries) {
      if (e.value("manager", "") == w.manager && e.value("operation", "") == "Apply") before = e.value("fieldsV1", json::object());
    }
    for (const auto& p : Leaves(before)) {
      if (Contains(mine, p)) continue;
      bool other = false;
      for (const auto& e : entries) {
        if (e.value("manager", "") != w.manager && Owns(e.value("fieldsV1", json::object()), p)) other = true;
      }
      if (!other) EraseAt(object, p);
    }
    for (auto& e : entries) {
      if (e.value("manager", "") != w.manager) e["fieldsV1"] = Subtract(e.value("fieldsV1", json::object()), taken);
    }
  } else {
    json changed = old ? ChangedFields(*old, *object) : ObjectFields(*object, sub);
    // Only what this operation may touch (status or the rest; metadata's tracked keys).
    json allowed = ObjectFields(*object, sub);
    json filtered = json::object();
    for (const auto& p : Leaves(changed)) {
      if (Contains(allowed, p) || Owns(allowed, p)) Add(&filtered, p);
    }
    mine = filtered;
    for (auto& e : entries) {
      if (e.value("manager", "") != w.manager) e["fieldsV1"] = Subtract(e.value("fieldsV1", json::object()), mine);
    }
  }
  bool found = false;
  for (auto& e : entries) {
    if (e.value("manager", "") == w.manager && e.value("operation", "") == w.operation &&
        e.value("subresource", "") == sub) {
      found = true;
      json next = w.operation == "Apply" ? mine : Union(e.value("fieldsV1", json::object()), mine);
      if (next != e.value("fieldsV1", json::object())) {
        e["fieldsV1"] = next;
        e["time"] = w.time;
        e["apiVersion"] = w.api_version;
      }
    }
  }
  if (!found && !mine.empty()) {
    json e = {{"manager", w.manager}, {"operation", w.operation}, {"apiVersion", w.api_version},
              {"time", w.time}, {"fieldsType", "FieldsV1"}, {"fieldsV1", mine}};
    if (!sub.empty()) e["subresource"] = sub;
    entries.push_back(e);
  }
  json kept = json::array();
  for (auto& e : entries) {
    if (e.contains("fieldsV1") && !e["fieldsV1"].empty()) kept.push_back(e);
  }
  if (kept.empty()) {
    meta.erase("managedFields");
  } else {
    meta["managedFields"] = kept;
  }
  return {};
}

std::string ConflictMessage(const std::vector<FieldConflict>& conflicts) {
  if (conflicts.size() == 1) {
    const auto& c = conflicts[0];
    return "Apply failed with 1 conflict: conflict with \"" + c.manager + "\" using " + c.api_version + ": " + c.path;
  }
  std::string msg = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: ";
  std::string last_manager;
  bool first = true;
  for (const auto& c : conflicts) {
    if (c.manager != last_manager) {
      msg += std::string(first ? "" : "\n") + "conflicts with \"" + c.manager + "\" using " + c.api_version + ":";
      last_manager = c.manager;
      first = false;
    }
    msg += "\n- " + c.path;
  }
  return msg;
}

}  // namespace kdr::kubesim
