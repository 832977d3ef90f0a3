#include "protocol/fairness_wire.h"

#include "base/status_macros.h"

namespace equifl::protocol {

v1::GroupStatistics StatisticsToProto(const fairness::StatisticsTable& table) {
  v1::GroupStatistics message;
  for (const auto& [cell, groups] : table) {
    for (const auto& [group, statistics] : groups) {
      v1::GroupCellStatistics& out = *message.add_cells();
      out.mutable_cell()->set_language(cell.language);
      out.mutable_cell()->set_modality(cell.modality);
      out.mutable_cell()->set_client_id(cell.client);
      out.set_group(group);
      out.set_loss_sum(statistics.loss_sum);
      out.set_loss_square_sum(statistics.loss_square_sum);
      out.set_sample_count(statistics.count);
      out.set_num_classes(statistics.num_classes);
      for (uint64_t count : statistics.confusion) out.add_confusion(count);
    }
  }
  return message;
}

absl::StatusOr<fairness::StatisticsTable> StatisticsFromProto(const v1::GroupStatistics& message) {
  fairness::StatisticsTable table;
  for (const v1::GroupCellStatistics& in : message.cells()) {
    fairness::GroupStatistics statistics;
    statistics.loss_sum = in.loss_sum();
    statistics.loss_square_sum = in.loss_square_sum();
    statistics.count = in.sample_count();
    // num_classes describes the confusion counts; without them there is none.
    if (in.confusion_size() != 0) {
      statistics.num_classes = in.num_classes();
      statistics.confusion.assign(in.confusion().begin(), in.confusion().end());
    }
    fairness::StatisticsTable entry;
    entry[fairness::Cell{in.cell().language(), in.cell().modality(), in.cell().client_id()}]
         [in.group()] = std::move(statistics);
    EQUIFL_RETURN_IF_ERROR(fairness::AddInto(table, entry));
  }
  return table;
}

v1::FairnessMethod FairnessMethodToProto(fairness::FairnessMethod method) {
  switch (method) {
    case fairness::FairnessMethod::kFedAvg:
      return v1::FAIRNESS_METHOD_UNSPECIFIED;
    case fairness::FairnessMethod::kMinMaxGap:
      return v1::FAIRNESS_METHOD_MINMAX_GAP;
    case fairness::FairnessMethod::kQFedAvg:
      return v1::FAIRNESS_METHOD_Q_FEDAVG;
    case fairness::FairnessMethod::kFedMinMax:
      return v1::FAIRNESS_METHOD_FEDMINMAX;
    case fairness::FairnessMethod::kFairFed:
      return v1::FAIRNESS_METHOD_FAIRFED;
    case fairness::FairnessMethod::kAdversarial:
      return v1::FAIRNESS_METHOD_ADVERSARIAL;
    case fairness::FairnessMethod::kBalanced:
      return v1::FAIRNESS_METHOD_BALANCED;
    case fairness::FairnessMethod::kGroupDro:
      return v1::FAIRNESS_METHOD_GROUP_DRO;
    case fairness::FairnessMethod::kFixedWeights:
      return v1::FAIRNESS_METHOD_FIXED_WEIGHTS;
  }
  return v1::FAIRNESS_METHOD_UNSPECIFIED;
}

void DirectiveToProto(const fairness::FairnessDirective& directive,
                      v1::FairnessDirective& message) {
  message.set_lambda(directive.lambda);
  message.set_epsilon(directive.epsilon);
  message.set_aggregation_beta(directive.aggregation_beta);
  message.set_up_weight_only(directive.up_weight_only);
  message.set_sample_weight_cap(directive.sample_weight_cap);
  for (const fairness::CellGroupWeight& entry : directive.weights) {
    v1::CellGroupWeight& weight = *message.add_weights();
    weight.mutable_cell()->set_language(entry.cell.language);
    weight.mutable_cell()->set_modality(entry.cell.modality);
    weight.mutable_cell()->set_client_id(entry.cell.client);
    weight.set_group(entry.group);
    weight.set_weight(entry.weight);
  }
}

fairness::FairnessDirective DirectiveFromProto(const v1::FairnessDirective& message) {
  fairness::FairnessDirective directive;
  directive.lambda = message.lambda();
  directive.epsilon = message.epsilon();
  directive.aggregation_beta = message.aggregation_beta();
  directive.up_weight_only = message.up_weight_only();
  directive.sample_weight_cap = message.sample_weight_cap();
  for (const v1::CellGroupWeight& entry : message.weights()) {
    directive.weights.push_back(
        {fairness::Cell{entry.cell().language(), entry.cell().modality(), entry.cell().client_id()},
         entry.group(), entry.weight()});
  }
  return directive;
}

}  // namespace equifl::protocol
