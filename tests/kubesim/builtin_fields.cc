#include "builtin_fields.h"

#include <nlohmann/json.hpp>

namespace kdr::kubesim {

const BuiltinFields& BuiltinFields::Get() {
  static const BuiltinFields table;
  return table;
}

BuiltinFields::BuiltinFields() {
  const nlohmann::json doc = nlohmann::json::parse(BuiltinFieldsJson(), nullptr, false);
  if (!doc.is_object()) return;
  version_ = doc.value("version", "");
  const nlohmann::json& types = doc["types"];
  for (auto it = types.begin(); it != types.end(); ++it) {
    names_.emplace(it.key(), static_cast<int>(names_.size()));
  }
  types_.resize(names_.size());
  for (auto it = types.begin(); it != types.end(); ++it) {
    auto& fields = types_[names_[it.key()]];
    for (auto f = it->begin(); f != it->end(); ++f) {
      std::string ref = f->get<std::string>();
      Field field;
      field.known = true;
      if (!ref.empty() && ref[0] == '*') {
        field.map = true;
        ref.erase(0, 1);
      }
      field.type = Named(ref);
      fields.emplace(f.key(), field);
    }
  }
  const nlohmann::json& roots = doc["roots"];
  for (auto it = roots.begin(); it != roots.end(); ++it) {
    roots_.emplace(it.key(), Named(it->get<std::string>()));
  }
}

int BuiltinFields::Root(std::string_view group_version, std::string_view kind) const {
  auto it = roots_.find(std::string(group_version) + "/" + std::string(kind));
  return it == roots_.end() ? -1 : it->second;
}

int BuiltinFields::Named(std::string_view name) const {
  auto it = names_.find(std::string(name));
  return it == names_.end() ? -1 : it->second;
}

BuiltinFields::Field BuiltinFields::Lookup(int type, std::string_view key) const {
  const auto& fields = types_[type];
  auto it = fields.find(std::string(key));
  return it == fields.end() ? Field{} : it->second;
}

}  // namespace kdr::kubesim
