"""A fixed background of everyday products and jobs that no catalogue needs to contain.

How close a post is to a profile means little until it is compared with something: within the catalogue
(the lead and lift features) that depends on how many profiles it has and how alike they are. The
background is the same for every catalogue: the mean of the post's LIFT_TOP best reranker cosines to these
names says how close the post is to "anything one could sell or hire for", so `e5_bg` (the profile's
cosine minus that) means the same in a catalogue of 3 profiles and of 300. Written for this project;
English names only (the reranker is cross-lingual).
"""
from __future__ import annotations

PRODUCTS = (
    "Furniture and sofas", "Bicycles", "Package holidays and tours", "Pet food", "Concert tickets",
    "Wedding photographer", "Home cleaning service", "Car repair shop", "Lawyer services", "Gym membership",
    "Cosmetics and skincare", "Grocery delivery", "Clothing", "Shoes and sneakers", "Toys for children",
    "Books", "Flower delivery", "Home appliances", "Televisions", "Headphones", "Game consoles",
    "Building materials", "Garden tools", "Baby strollers", "Watches and jewellery", "Used cars",
    "Tyres", "Kitchen renovation", "Moving company", "Driving school", "Music lessons", "Psychologist",
    "Veterinary clinic", "Beauty salon", "Cakes to order", "Translation agency", "Printing services",
    "Office supplies", "Coffee machines", "Camping gear",
)
VACANCIES = (
    "Teacher", "Cook", "Cleaner", "Security guard", "Hairdresser", "Barista", "Waiter", "Nanny",
    "Translator", "Data analyst", "DevOps engineer", "Lawyer", "Marketing manager", "HR manager",
    "Project manager", "Architect", "Car mechanic", "Construction worker", "Painter and decorator",
    "Farm worker", "Seamstress", "Photographer", "Copywriter", "Fitness trainer", "Cashier",
    "Shop assistant", "Receptionist", "Logistics manager", "Mechanical engineer", "Economist",
    "Gardener", "Housekeeper", "Machine operator", "Bartender", "Tutor", "Mobile developer",
    "Product designer", "Office administrator", "Bus driver", "Dispatcher",
)
BACKGROUND = {"product": PRODUCTS, "vacancy": VACANCIES}
