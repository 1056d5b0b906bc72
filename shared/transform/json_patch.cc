#include "transform/json_patch.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/json.h"
#include "base/strings.h"

namespace kdr::transform {

namespace {

using nlohmann::json;

std::string_view OpName(JsonPatchOp op) {
  switch (op) {
    case JsonPatchOp::kAdd: return "add";
    case JsonPatchOp::kRemove: return "remove";
    case JsonPatchOp::kReplace: return "replace";
    case JsonPatchOp::kMove: return "move";
    case JsonPatchOp::kCopy: return "copy";
    case JsonPatchOp::kTest: return "test";
  }
  return "?";
}

std::optional<JsonPatchOp> OpFromName(std::string_view name) {
  if (name == "add") return JsonPatchOp::kAdd;
  if (name == "remove") return JsonPatchOp::kRemove;
  if (name == "replace") return JsonPatchOp::kReplace;
  if (name == "move") return JsonPatchOp::kMove;
  if (name == "copy") return JsonPatchOp::kCopy;
  if (name == "test") return JsonPatchOp::kTest;
  return std::nullopt;
}

std::string EscapeToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// The pointer of tokens[0, n), for messages ("" is the document).
std::string PointerOf(const std::vector<std::string>& tokens, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < tokens.size(); ++i) out += "/" + EscapeToken(tokens[i]);
  return out;
}

std::string Where(const std::vector<std::string>& tokens, size_t n) {
  std::string p = PointerOf(tokens, n);
  return p.empty() ? "the document root" : p;
}

std::string_view TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "discarded";
    default: return "a number";
  }
}

// RFC 6901 array index: "0" or digits without a leading zero. Overflow is "not an index".
std::optional<size_t> ParseIndex(const std::string& token) {
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  size_t v = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  return v;
}

// Why tokens do not resolve in doc: names the first missing step. Assumes they do not.
std::string WhyNotFound(const json& doc, const std::vector<std::string>& tokens) {
  const json* cur = &doc;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) {
        std::vector<std::string> keys;
        for (auto& [k, v] : cur->items()) keys.push_back(k);
        return "path not found (" + Where(tokens, i) + " has no member " + Quote(t) +
               DidYouMean(t, keys) + ")";
      }
      cur = &*it;
    } else if (cur->is_array()) {
      if (t == "-") {
        return "path not found (\"-\" at " + Where(tokens, i) +
               " names the end of the array, valid only as the target of add)";
      }
      auto idx = ParseIndex(t);
      if (!idx) {
        return "path not found (" + Quote(t) + " at " + Where(tokens, i) +
               " is not an array index: digits without a leading zero)";
      }
      if (*idx >= cur->size()) {
        return "path not found (index " + t + " is out of range: " + Where(tokens, i) + " has " +
               std::to_string(cur->size()) + " elements)";
      }
      cur = &(*cur)[*idx];
    } else {
      return "path not found (" + Where(tokens, i) + " is " + std::string(TypeName(*cur)) +
             ", not an object or array)";
    }
  }
  return "path not found";
}

json* MutableResolve(json& doc, const std::vector<std::string>& tokens, size_t n) {
  json* cur = &doc;
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = ParseIndex(t);
      if (!idx || *idx >= cur->size()) return nullptr;
      cur = &(*cur)[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

// One primitive change, recorded so a failed patch can be rolled back in reverse order. The
// parent is found again by its tokens: earlier pointers may have moved with array reallocation.
struct UndoEntry {
  enum class Kind { kMemberAdded, kMemberReplaced, kMemberRemoved, kElementInserted,
                    kElementRemoved, kElementReplaced, kRootReplaced };
  Kind kind;
  std::vector<std::string> parent;  // tokens of the container
  std::string key;                  // object member
  size_t index = 0;                 // array element
  json old;                         // the value the change displaced
};

class Applier {
 public:
  explicit Applier(json* doc) : doc_(doc) {}

  // Rolls back every recorded change, newest first.
  void Undo() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      UndoEntry& e = *it;
      if (e.kind == UndoEntry::Kind::kRootReplaced) {
        *doc_ = std::move(e.old);
        continue;
      }
      json* parent = MutableResolve(*doc_, e.parent, e.parent.size());
      // Reverse-order undo restores the exact state each change was made in, so the parent
      // resolves; anything else is a bug in this file.
      assert(parent != nullptr);
      if (parent == nullptr) continue;
      switch (e.kind) {
        case UndoEntry::Kind::kMemberAdded: parent->erase(e.key); break;
        case UndoEntry::Kind::kMemberReplaced:
        case UndoEntry::Kind::kMemberRemoved: (*parent)[e.key] = std::move(e.old); break;
        case UndoEntry::Kind::kElementInserted: parent->erase(parent->begin() + e.index); break;
        case UndoEntry::Kind::kElementRemoved:
          parent->insert(parent->begin() + e.index, std::move(e.old));
          break;
        case UndoEntry::Kind::kElementReplaced: (*parent)[e.index] = std::move(e.old); break;
        case UndoEntry::Kind::kRootReplaced: break;
      }
    }
    undo_.clear();
  }

  // RFC 6902 4.1 add. Returns the reason on failure, without changing anything.
  std::optional<std::string> Add(const std::vector<std::string>& path, json value) {
    if (auto deep = TooDeep(path, value)) return deep;
    if (path.empty()) {
      undo_.push_back({UndoEntry::Kind::kRootReplaced, {}, {}, 0, std::move(*doc_)});
      *doc_ = std::move(value);
      return std::nullopt;
    }
    const size_t n = path.size() - 1;
    json* parent = MutableResolve(*doc_, path, n);
    if (parent == nullptr) return "parent " + WhyNotFound(*doc_, ParentTokens(path));
    const std::string& last = path.back();
    if (parent->is_object()) {
      auto it = parent->find(last);
      if (it != parent->end()) {
        undo_.push_back({UndoEntry::Kind::kMemberReplaced, ParentTokens(path), last, 0,
                         std::move(*it)});
        *it = std::move(value);
      } else {
        undo_.push_back({UndoEntry::Kind::kMemberAdded, ParentTokens(path), last, 0, json()});
        (*parent)[last] = std::move(value);
      }
      return std::nullopt;
    }
    if (parent->is_array()) {
      size_t idx = parent->size();
      if (last != "-") {
        auto parsed = ParseIndex(last);
        if (!parsed) {
          return Quote(last) + " is not an array index for " + Where(path, n) +
                 ": digits without a leading zero, or \"-\" to append";
        }
        if (*parsed > parent->size()) {
          return "index " + last + " is out of range: " + Where(path, n) + " has " +
                 std::to_string(parent->size()) + " elements (add accepts 0 to " +
                 std::to_string(parent->size()) + ")";
        }
        idx = *parsed;
      }
      parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(idx), std::move(value));
      undo_.push_back({UndoEntry::Kind::kElementInserted, ParentTokens(path), {}, idx, json()});
      return std::nullopt;
    }
    return "parent " + Where(path, n) + " is " + std::string(TypeName(*parent)) +
           ", not an object or array";
  }

  // RFC 6902 4.2 remove. On success *removed holds the value (for move).
  std::optional<std::string> Remove(const std::vector<std::string>& path, json* removed) {
    if (path.empty()) return "cannot remove the document root";
    json* parent = MutableResolve(*doc_, path, path.size() - 1);
    if (parent == nullptr) return WhyNotFound(*doc_, path);
    const std::string& last = path.back();
    if (parent->is_object()) {
      auto it = parent->find(last);
      if (it == parent->end()) return WhyNotFound(*doc_, path);
      json old = std::move(*it);
      parent->erase(it);
      if (removed != nullptr) *removed = old;
      undo_.push_back({UndoEntry::Kind::kMemberRemoved, ParentTokens(path), last, 0,
                       std::move(old)});
      return std::nullopt;
    }
    if (parent->is_array()) {
      auto idx = ParseIndex(last);
      if (!idx || *idx >= parent->size()) return WhyNotFound(*doc_, path);
      json old = std::move((*parent)[*idx]);
      parent->erase(parent->begin() + static_cast<std::ptrdiff_t>(*idx));
      if (removed != nullptr) *removed = old;
      undo_.push_back({UndoEntry::Kind::kElementRemoved, ParentTokens(path), {}, *idx,
                       std::move(old)});
      return std::nullopt;
    }
    return WhyNotFound(*doc_, path);
  }

  // RFC 6902 4.3 replace: the target must exist.
  std::optional<std::string> Replace(const std::vector<std::string>& path, json value) {
    if (auto deep = TooDeep(path, value)) return deep;
    if (path.empty()) {
      undo_.push_back({UndoEntry::Kind::kRootReplaced, {}, {}, 0, std::move(*doc_)});
      *doc_ = std::move(value);
      return std::nullopt;
    }
    json* parent = MutableResolve(*doc_, path, path.size() - 1);
    if (parent == nullptr) return WhyNotFound(*doc_, path);
    const std::string& last = path.back();
    if (parent->is_object()) {
      auto it = parent->find(last);
      if (it == parent->end()) return WhyNotFound(*doc_, path);
      undo_.push_back({UndoEntry::Kind::kMemberReplaced, ParentTokens(path), last, 0,
                       std::move(*it)});
      *it = std::move(value);
      return std::nullopt;
    }
    if (parent->is_array()) {
      auto idx = ParseIndex(last);
      if (!idx || *idx >= parent->size()) return WhyNotFound(*doc_, path);
      undo_.push_back({UndoEntry::Kind::kElementReplaced, ParentTokens(path), {}, *idx,
                       std::move((*parent)[*idx])});
      (*parent)[*idx] = std::move(value);
      return std::nullopt;
    }
    return WhyNotFound(*doc_, path);
  }

  const json& doc() const { return *doc_; }

 private:
  // Documents stay within kube-apiserver's depth, which every later step (the copy, the webhook's
  // diff, dump) is made safe for; without this, each "copy" of a subtree into itself could double
  // the depth until a recursion overflows the stack.
  static std::optional<std::string> TooDeep(const std::vector<std::string>& path,
                                            const json& value) {
    const int room = kMaxJsonDepth - static_cast<int>(std::min<size_t>(path.size(), kMaxJsonDepth));
    if (!NestsDeeperThan(value, room)) return std::nullopt;
    return "the value would nest deeper than " + std::to_string(kMaxJsonDepth) + " levels at " +
           Where(path, path.size()) + " (kube-apiserver's limit)";
  }

  static std::vector<std::string> ParentTokens(const std::vector<std::string>& path) {
    return std::vector<std::string>(path.begin(), path.end() - 1);
  }

  json* doc_;
  std::vector<UndoEntry> undo_;
};

bool IsProperPrefix(const std::vector<std::string>& prefix, const std::vector<std::string>& path) {
  if (prefix.size() >= path.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i] != path[i]) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') {
    return Status::InvalidArgument("json pointer " + Quote(pointer) +
                                   " must be empty or start with \"/\"");
  }
  std::string cur;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    char c = pointer[i];
    if (c == '~') {
      char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
      if (next == '0') {
        cur += '~';
      } else if (next == '1') {
        cur += '/';
      } else {
        return Status::InvalidArgument("json pointer " + Quote(pointer) +
                                       " has a bad escape at offset " + std::to_string(i) +
                                       ": \"~\" must be followed by 0 (for ~) or 1 (for /)");
      }
      ++i;
      continue;
    }
    cur += c;
  }
  return tokens;
}

const nlohmann::json* ResolvePointer(const nlohmann::json& doc,
                                     const std::vector<std::string>& tokens) {
  return MutableResolve(const_cast<json&>(doc), tokens, tokens.size());
}

Result<JsonPatch> JsonPatch::Compile(const nlohmann::json& ops, JsonPatchDialect dialect) {
  if (!ops.is_array()) {
    return Status::InvalidArgument("json patch must be an array of operations, not " +
                                   std::string(TypeName(ops)));
  }
  JsonPatch patch;
  patch.dialect_ = dialect;
  patch.ops_.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const json& o = ops[i];
    const std::string prefix = "operation " + std::to_string(i);
    if (!o.is_object()) {
      return Status::InvalidArgument(prefix + ": must be an object with op and path, not " +
                                     std::string(TypeName(o)));
    }
    auto op_it = o.find("op");
    if (op_it == o.end()) return Status::InvalidArgument(prefix + ": missing op");
    if (!op_it->is_string()) return Status::InvalidArgument(prefix + ": op must be a string");
    const std::string op_name = op_it->get<std::string>();
    auto op = OpFromName(op_name);
    if (!op) {
      return Status::InvalidArgument(
          prefix + ": unknown op " + Quote(op_name) +
          DidYouMean(op_name, {"add", "remove", "replace", "move", "copy", "test"}) +
          " (one of add, remove, replace, move, copy, test)");
    }
    Operation out;
    out.op = *op;
    auto path_it = o.find("path");
    if (path_it == o.end()) return Status::InvalidArgument(prefix + " (" + op_name + "): missing path");
    if (!path_it->is_string()) {
      return Status::InvalidArgument(prefix + " (" + op_name + "): path must be a string");
    }
    out.path = path_it->get<std::string>();
    const std::string head = prefix + " (" + op_name + " " + out.path + ")";
    auto tokens = ParseJsonPointer(out.path);
    if (!tokens.ok()) return tokens.status().WithContext(head + ": path");
    out.path_tokens = std::move(tokens).value();
    if (*op == JsonPatchOp::kMove || *op == JsonPatchOp::kCopy) {
      auto from_it = o.find("from");
      if (from_it == o.end()) return Status::InvalidArgument(head + ": missing from");
      if (!from_it->is_string()) return Status::InvalidArgument(head + ": from must be a string");
      out.from = from_it->get<std::string>();
      auto from_tokens = ParseJsonPointer(out.from);
      if (!from_tokens.ok()) return from_tokens.status().WithContext(head + ": from");
      out.from_tokens = std::move(from_tokens).value();
      if (*op == JsonPatchOp::kMove && IsProperPrefix(out.from_tokens, out.path_tokens)) {
        return Status::InvalidArgument(head + ": from " + Quote(out.from) +
                                       " is a proper prefix of path: a value cannot be moved "
                                       "into one of its own children");
      }
    }
    if (*op == JsonPatchOp::kAdd || *op == JsonPatchOp::kReplace || *op == JsonPatchOp::kTest) {
      auto value_it = o.find("value");
      if (value_it == o.end()) return Status::InvalidArgument(head + ": missing value");
      out.value = std::make_shared<const json>(*value_it);
      out.value_json = value_it->dump();
    }
    patch.ops_.push_back(std::move(out));
  }
  return patch;
}

Status JsonPatch::Apply(nlohmann::json* doc, size_t* failed_operation) const {
  Applier applier(doc);
  for (size_t i = 0; i < ops_.size(); ++i) {
    const Operation& o = ops_[i];
    std::optional<std::string> err;
    bool test_failed = false;
    switch (o.op) {
      case JsonPatchOp::kAdd: err = applier.Add(o.path_tokens, *o.value); break;
      case JsonPatchOp::kRemove: err = applier.Remove(o.path_tokens, nullptr); break;
      case JsonPatchOp::kReplace: err = applier.Replace(o.path_tokens, *o.value); break;
      case JsonPatchOp::kMove: {
        if (o.from_tokens == o.path_tokens) {
          // Moving a value onto itself changes nothing, but the value must exist.
          if (ResolvePointer(*doc, o.from_tokens) == nullptr) {
            err = "from " + WhyNotFound(*doc, o.from_tokens);
          }
          break;
        }
        json moved;
        if (auto e = applier.Remove(o.from_tokens, &moved)) {
          err = "from " + *e;
          break;
        }
        err = applier.Add(o.path_tokens, std::move(moved));
        break;
      }
      case JsonPatchOp::kCopy: {
        const json* src = ResolvePointer(*doc, o.from_tokens);
        if (src == nullptr) {
          err = "from " + WhyNotFound(*doc, o.from_tokens);
          break;
        }
        err = applier.Add(o.path_tokens, *src);
        break;
      }
      case JsonPatchOp::kTest: {
        const json* have = ResolvePointer(*doc, o.path_tokens);
        if (have == nullptr && dialect_ == JsonPatchDialect::kRfc6902) {
          err = WhyNotFound(*doc, o.path_tokens);
          test_failed = true;
        } else if (have == nullptr) {
          // evanphx/json-patch v5 Patch.test: findObject must reach the parent, or the error is
          // ErrMissing; partialDoc.get of a missing key is ErrMissing too, which test forgives
          // and compares nil with the value; partialArray.get of a bad index is not forgiven.
          // Velero skips a rule only on ErrTestFailed. (The root is never missing.)
          const json* parent = ResolvePointer(
              *doc, std::vector<std::string>(o.path_tokens.begin(), o.path_tokens.end() - 1));
          if (parent == nullptr || !parent->is_object()) {
            err = WhyNotFound(*doc, o.path_tokens);
          } else if (!o.value->is_null()) {
            err = "value differs (" + Where(o.path_tokens, o.path_tokens.size() - 1) +
                  " has no member " + Quote(o.path_tokens.back()) + ", which reads as null)";
            test_failed = true;
          }
        } else if (*have != *o.value) {
          // nlohmann compares numbers by value across integer/float (1 == 1.0), as RFC 6902
          // 4.6 requires; objects ignore member order, arrays compare element by element. The
          // values are not quoted: they may be Secret data.
          err = "value differs";
          if (have->type() != o.value->type() && !(have->is_number() && o.value->is_number())) {
            *err += " (found " + std::string(TypeName(*have)) + ", want " +
                    std::string(TypeName(*o.value)) + ")";
          }
          test_failed = true;
        }
        break;
      }
    }
    if (err) {
      applier.Undo();
      if (failed_operation != nullptr) *failed_operation = i;
      std::string msg = "operation " + std::to_string(i) + " (" + std::string(OpName(o.op)) +
                        " " + o.path;
      if (o.op == JsonPatchOp::kMove || o.op == JsonPatchOp::kCopy) msg += " from " + o.from;
      msg += "): " + *err;
      return test_failed ? Status::FailedPrecondition(std::move(msg))
                         : Status::InvalidArgument(std::move(msg));
    }
  }
  return Status::Ok();
}

Status ApplyJsonPatch(nlohmann::json* doc, const nlohmann::json& ops) {
  KDR_ASSIGN_OR_RETURN(JsonPatch patch, JsonPatch::Compile(ops));
  return patch.Apply(doc);
}

}  // namespace kdr::transform
