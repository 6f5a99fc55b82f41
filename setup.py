"""The CNN-CRF body-part project: Gibbs-sampled pairwise CRFs on CNN unaries, in Caffe."""
from setuptools import find_packages, setup

setup(
    name="cnncrf",
    version="0.1.0",
    description="A Generic CNN-CRF Model for Semantic Segmentation (Kirillov et al. 2015), reproduced",
    packages=find_packages(include=["sampler", "sampler.*", "layers", "layers.*", "data", "data.*", "nets", "nets.*",
                                    "experiments", "experiments.*", "cnncrf", "cnncrf.*"]),
    python_requires=">=3.11",
)
