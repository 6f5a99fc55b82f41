#!/usr/bin/env bash
# The project's changes to Caffe 1.0's sources before building (usage: patch_caffe.sh SRC);
# each is checked to have applied.
#  1. protobuf 3.21 (Debian 12) has only the one-argument SetTotalBytesLimit.
#  2. A parameter with lr_mult 0 is left out of the solver's update, Net::Update and
#     ClearParamDiffs. Caffe's update of such a parameter is local_rate (0) times something, so
#     its data stay bit for bit what they were either way; the CRF layer's chain store (one
#     labelling per training image, millions of floats, lr_mult 0) would otherwise cost an Adam
#     update and two full passes every iteration (measured: most of a stage-2 step). History
#     blobs keep their shapes, so snapshots read and write as with Caffe's own build.
source "$(dirname "$0")/common.sh"
SRC="$1"

apply() {  # apply FILE PERL-SUBSTITUTION CHECK-STRING: edit FILE in place, fail unless CHECK is there
  perl -0pi -e "$2" "$SRC/$1"
  grep -qF "$3" "$SRC/$1" || die_manual "the Caffe source change for $1 did not apply"
}

apply src/caffe/util/io.cpp 's/SetTotalBytesLimit\(kProtoReadBytesLimit, 536870912\)/SetTotalBytesLimit(kProtoReadBytesLimit)/' \
  'SetTotalBytesLimit(kProtoReadBytesLimit)'
apply src/caffe/net.cpp 's/    learnable_params_\[i\]->Update\(\);\n/    if (params_lr_[i] != 0) { learnable_params_[i]->Update(); }  \/\/ cnncrf: lr_mult 0\n/' \
  'if (params_lr_[i] != 0) { learnable_params_[i]->Update(); }'
apply src/caffe/net.cpp 's/(    Blob<Dtype>\* blob = learnable_params_\[i\];\n)(    switch \(Caffe::mode\(\)\) \{)/$1    if (params_lr_[i] == 0) { continue; }  \/\/ cnncrf: lr_mult 0\n$2/' \
  'if (params_lr_[i] == 0) { continue; }'
apply src/caffe/solvers/sgd_solver.cpp 's/(       \+\+param_id\) \{\n)(    Normalize\(param_id\);)/$1    if (this->net_->params_lr()[param_id] == 0) { continue; }  \/\/ cnncrf: lr_mult 0\n$2/' \
  'if (this->net_->params_lr()[param_id] == 0) { continue; }'
