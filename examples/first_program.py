"""python-autodiff's "Your first autodiff program", with only the import changed.

Run: python examples/first_program.py

anyad prints ``[array([2., 4., 6., 8.], dtype=float32)]``: a Tensor is float32
by default, and anyad keeps its gradient float32 (python-autodiff returns
float64 here).
"""

import anyad as ad

a = ad.Tensor([1, 2, 3, 4])
b = a ** 2
graph = ad.Graph()
graph.add_variables(a)
gradients = graph.gradient(b, [a])
print(gradients) # [array([2., 4., 6., 8.])]
